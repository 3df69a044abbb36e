import type { Readable } from 'node:stream'

/** A body over a reader's limit. The message is fit for the client: "larger than N bytes". */
export class BodyTooLarge extends Error {
  readonly limit: number
  constructor(limit: number, declared?: number) {
    super(declared === undefined ? `larger than ${limit} bytes` : `${declared} bytes, larger than ${limit} bytes`)
    this.name = 'BodyTooLarge'
    this.limit = limit
  }
}

/**
 * Reads a whole body (a request's or a response's) into memory exactly as received, refusing more than `limit`
 * bytes: at once when the declared length says so, otherwise as soon as the count passes the limit. A refused
 * stream is drained, not destroyed, so a client still reads the 413 that follows (a caller that holds a
 * backend's response destroys it instead). Listeners rather than async iteration, because leaving an iterator
 * early destroys the stream, and for a client's request that is its socket. Hand-written: libraries such as
 * raw-body take an IncomingMessage, while a body here may be any stream or already a buffer.
 */
export function readBody(
  body: Readable | Buffer | null,
  limit: number,
  options: { declaredLength?: number; signal?: AbortSignal } = {},
): Promise<Buffer> {
  if (body === null) return Promise.resolve(Buffer.alloc(0))
  if (Buffer.isBuffer(body)) return body.length > limit ? Promise.reject(new BodyTooLarge(limit)) : Promise.resolve(body)
  const { declaredLength, signal } = options
  if (declaredLength !== undefined && declaredLength > limit) {
    body.resume()
    return Promise.reject(new BodyTooLarge(limit, declaredLength))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      if (size > limit) return fail(new BodyTooLarge(limit), true)
      chunks.push(buffer)
    }
    const onEnd = () => {
      stop()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    }
    const onError = (error: Error) => fail(error, false)
    const onClose = () => fail(Object.assign(new Error('the body ended before it was complete'), { code: 'ECONNRESET' }), false)
    const onAbort = () => fail(signal!.reason as Error, false)
    const fail = (error: Error, drain: boolean) => {
      stop()
      if (drain) body.resume()
      reject(error)
    }
    const stop = () => {
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    if (signal?.aborted) return reject(signal.reason as Error)
    signal?.addEventListener('abort', onAbort, { once: true })
    body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose)
  })
}
