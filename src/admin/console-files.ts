import { readFile, readdir } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'

/** Where `npm run build:console` writes the bundle (console/build.ts). */
const BUNDLE = new URL('../../console/dist/', import.meta.url)

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  json: 'application/json',
}

/** The page may reach its own origin only: no CDN, no inline script, never framed. */
const HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

interface File {
  body: Buffer
  type: string
  etag: string
}

/**
 * The console's static files, read once from the built bundle. Only names the bundle holds are served, so no
 * request path can reach another file; `/console` and any path without a file name get the page itself.
 */
export class ConsoleFiles {
  #files: Promise<Map<string, File> | undefined> | undefined

  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const files = await (this.#files ??= load())
    if (!files) {
      this.#files = undefined // built later: looked for again on the next request
      const text = 'The console is not built: run npm run build:console\n'
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
      return
    }
    const name = path.slice('/console'.length).replace(/^\//, '')
    const file = files.get(name) ?? (name.includes('.') ? undefined : files.get('index.html'))
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('Not found\n')
      return
    }
    const headers = { ...HEADERS, 'content-type': file.type, etag: file.etag, 'cache-control': 'no-cache' }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.length })
    res.end(req.method === 'HEAD' ? undefined : file.body)
  }
}

async function load(): Promise<Map<string, File> | undefined> {
  let names: string[]
  try {
    names = await readdir(BUNDLE)
  } catch {
    return undefined
  }
  if (!names.includes('index.html')) return undefined
  const files = new Map<string, File>()
  for (const name of names) {
    const type = TYPES[name.split('.').pop() ?? '']
    if (!type) continue
    const body = await readFile(new URL(name, BUNDLE))
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
  }
  return files
}
