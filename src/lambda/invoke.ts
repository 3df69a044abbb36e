import type { IncomingHttpHeaders } from 'node:http'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { Pool } from 'undici'
import type { CredentialProvider } from './credentials.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'

/** The Invoke API answers with at most 6 MB for a synchronous call; a little more leaves room for headers of errors. */
const MAX_RESULT_BYTES = 6 * 1024 * 1024 + 64 * 1024

export interface InvokeTarget {
  readonly function: string
  readonly qualifier: string | undefined
  readonly region: string
  /** `https://lambda.<region>.amazonaws.com` unless another endpoint is configured. */
  readonly endpointUrl: string
  readonly timeouts: { readonly connect: number; readonly response: number; readonly idle: number }
}

export interface InvokeResult {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly payload: Buffer
}

/** Thrown when the signing credentials could not be obtained (STS refused, or the default chain found none). */
export class CredentialsError extends Error {}

/** Thrown when the Invoke API's answer is larger than Lambda can ever send. */
export class OversizedResult extends Error {}

/** SHA-256 through node:crypto (OpenSSL): several times faster than a JavaScript implementation for large payloads. */
const Sha256 = Hash.bind(null, 'sha256')

/** The default endpoint of the Lambda service in a region, following AWS's partitions. */
export function defaultLambdaEndpoint(region: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return `https://lambda.${region}.${domain}`
}

/**
 * Calls the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), signed with SigV4 by AWS's own
 * signer, over a keep-alive undici pool. This is all the AWS SDK's Lambda client does for Invoke, at a fraction
 * of its cost per call (docs/lambda.md has the measurement).
 */
export class LambdaInvoker {
  readonly #pool: Pool
  readonly #signer: SignatureV4
  readonly #protocol: string
  readonly #hostname: string
  readonly #port: number | undefined
  readonly #host: string
  readonly #path: string
  readonly #query: Record<string, string>
  readonly #pathAndQuery: string

  constructor(target: InvokeTarget, credentials: CredentialProvider) {
    const url = new URL(target.endpointUrl)
    this.#protocol = url.protocol
    this.#hostname = url.hostname
    this.#port = url.port ? Number(url.port) : undefined
    this.#host = url.host
    const base = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname
    this.#path = `${base}/2015-03-31/functions/${encodeLabel(target.function)}/invocations`
    this.#query = target.qualifier ? { Qualifier: target.qualifier } : {}
    this.#pathAndQuery = target.qualifier ? `${this.#path}?Qualifier=${encodeLabel(target.qualifier)}` : this.#path
    this.#signer = new SignatureV4({ service: 'lambda', region: target.region, credentials, sha256: Sha256 })
    this.#pool = new Pool(url.origin, {
      connect: { timeout: target.timeouts.connect },
      // Lambda sends its headers only once the function has finished: the response timeout bounds the invocation.
      headersTimeout: target.timeouts.response,
      bodyTimeout: target.timeouts.idle,
    })
  }

  /**
   * Invokes the function with `payload` (the event as UTF-8 JSON); the signer hashes the bytes that go on the wire.
   * `traceHeader` is the X-Ray trace header of a traced exchange.
   */
  async invoke(payload: Buffer, invocationType: 'RequestResponse' | 'Event', signal: AbortSignal, traceHeader?: string): Promise<InvokeResult> {
    let signed
    try {
      signed = await this.#signer.sign({
        method: 'POST',
        protocol: this.#protocol,
        hostname: this.#hostname,
        port: this.#port,
        path: this.#path,
        query: this.#query,
        headers: {
          host: this.#host,
          'content-type': 'application/json',
          'x-amz-invocation-type': invocationType,
          ...(traceHeader === undefined ? {} : { 'x-amzn-trace-id': traceHeader }),
        },
        body: payload,
      })
    } catch (error) {
      throw new CredentialsError(`could not obtain AWS credentials: ${(error as Error).name}: ${(error as Error).message}`, { cause: error })
    }
    const response = await this.#pool.request({
      method: 'POST',
      path: this.#pathAndQuery,
      headers: signed.headers,
      body: payload,
      signal,
    })
    let result: Buffer
    try {
      result = await readBody(response.body, MAX_RESULT_BYTES)
    } catch (error) {
      response.body.destroy()
      if (error instanceof BodyTooLarge) throw new OversizedResult(`the Invoke API sent a result ${error.message}`)
      throw error
    }
    return { status: response.statusCode, headers: response.headers, payload: result }
  }

  get closed(): boolean {
    return this.#pool.closed || this.#pool.destroyed
  }

  close(): Promise<void> {
    return this.#pool.close()
  }
}

/** A path label encoded as the AWS SDK encodes it: `encodeURIComponent` plus `!'()*`, so ARNs keep `%3A`. */
function encodeLabel(label: string): string {
  return encodeURIComponent(label).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
