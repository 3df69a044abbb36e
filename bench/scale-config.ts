// The configs of `npm run bench:scale` and `bench:scale-store`, and how both wait for a gateway to serve them.
import { createServer } from 'node:http'
import { request } from 'undici'

/** N APIs of 5 templated resources, all on one backend origin (as APIs of one backend service are). */
export function scaleConfig(apis: number, port: number, backend: string, changed?: number, options: { admin?: boolean } = {}): string {
  const lines = [`listeners: [{ host: 127.0.0.1, port: ${port} }]`, `admin: { enabled: ${options.admin === true} }`, 'accessLog: { enabled: false }', 'apis:']
  for (let i = 0; i < apis; i++) {
    lines.push(
      `  - name: api${i}`,
      `    context: /api${i}`,
      '    version: v1',
      '    resources:',
      '      - { uriTemplate: /items, methods: [GET, POST] }',
      '      - { uriTemplate: "/items/{id}", methods: [GET, PUT, DELETE] }',
      '      - { uriTemplate: "/items/{id}/parts", methods: [GET] }',
      '      - { uriTemplate: "/items/{id}/parts/{part}", methods: [GET] }',
      '      - { uriTemplate: "/orders/{order}", methods: [GET] }',
      '    endpoints:',
      `      production: { type: http, url: "${backend}/svc${i}${i === changed ? '-changed' : ''}" }`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** Polls `url` (every `everyMs`) until it answers 200 with a body that passes `accept`; returns when it did. */
export async function until(url: string, accept: (body: string) => boolean, deadline = Date.now() + 120_000, everyMs = 5): Promise<number> {
  for (;;) {
    try {
      const response = await request(url)
      const body = await response.body.text()
      if (response.statusCode === 200 && accept(body)) return performance.now()
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer as expected in time`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** A backend that answers its path: the bench sees which endpoint URL served. */
export async function pathEchoBackend(): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => res.end(req.url))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() }
}
