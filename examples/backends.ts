import { createServer, type IncomingMessage, type Server } from 'node:http'

/**
 * Stand-ins for the backends the example configs name, so that each example answers on this machine alone
 * (`npm run example -- NAME`). Each answers with JSON that says which backend it is.
 */

/** Answers every request with `{ backend, method, path, body }` (and `clientCert`, if forwarded); `/health` answers ok. */
export function startEchoBackend(port: number, name: string, check?: (req: IncomingMessage) => string | undefined): Promise<Server> {
  return listen(port, async (req, res) => {
    const body = await readBody(req)
    const refused = check?.(req)
    const path = req.url ?? '/'
    // The client certificate a TLS listener forwards (examples/tls.yaml), when there is one.
    const clientCert = req.headers['x-forwarded-client-cert']
    const [status, answer] = refused
      ? [401, { backend: name, error: refused }]
      : path === '/health'
        ? [200, { status: 'ok' }]
        : [200, { backend: name, method: req.method, path, body, ...(clientCert ? { clientCert } : {}) }]
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(answer))
  })
}

/** A backend that takes only HTTP Basic credentials `username:password`, as examples/security.yaml sends them. */
export function startBasicAuthBackend(port: number, name: string, username: string, password: string): Promise<Server> {
  const expected = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
  return startEchoBackend(port, name, (req) => (req.headers.authorization === expected ? undefined : 'wrong or missing Basic credentials'))
}

/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/NAME/invocations`) for a local run, as LocalStack would serve
 * it: every function answers with an API Gateway proxy result that echoes the event's method and path. It does
 * not check the SigV4 signature; real AWS does.
 */
export function startLambdaStandIn(port: number): Promise<Server> {
  return listen(port, async (req, res) => {
    const name = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url?.split('?')[0] ?? '')?.[1]
    const event = JSON.parse((await readBody(req)) || '{}') as { rawPath?: string; path?: string; requestContext?: { http?: { method?: string } }; httpMethod?: string }
    if (req.method !== 'POST' || !name) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ Type: 'User', message: 'not a Lambda Invoke request' }))
    }
    const answer = { function: decodeURIComponent(name), method: event.requestContext?.http?.method ?? event.httpMethod, path: event.rawPath ?? event.path }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) }))
  })
}

function listen(port: number, handle: (req: IncomingMessage, res: import('node:http').ServerResponse) => Promise<unknown>): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'bad request' }))
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = ''
  req.setEncoding('utf8')
  for await (const chunk of req) body += chunk
  return body
}
