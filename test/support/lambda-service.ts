import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { startBackend, type TestBackend } from './backend.ts'
import { verifySignature, type AwsKey } from './aws-signature.ts'

export interface InvocationContext {
  functionName: string
  qualifier: string | undefined
  invocationType: string
  awsRequestId: string
}

/** A function handler as the Node.js runtime calls it (async form): its return value is the result. */
export type LambdaHandler = (event: any, context: InvocationContext) => unknown

/** Thrown by a handler to make the service itself answer, as for throttling (429) or a service fault (5xx). */
export class ServiceError extends Error {
  readonly status: number
  readonly type: string
  constructor(status: number, type: string, message: string) {
    super(message)
    this.status = status
    this.type = type
  }
}

/** Thrown by a handler for a `Handled` function error (the runtime's callback(error) style); other throws are `Unhandled`. */
export class HandledError extends Error {}

export interface Invocation {
  functionName: string
  qualifier: string | undefined
  invocationType: string
  accessKeyId: string
  event: any
}

export interface Rejection {
  status: number
  type: string
  message: string
}

export interface LambdaService {
  url: string
  region: string
  backend: TestBackend
  /** Keys the service accepts; tests add temporary ones (the STS stand-in does). */
  keys: Map<string, AwsKey>
  functions: Map<string, LambdaHandler>
  invocations: Invocation[]
  /** Every call the service refused, with why. */
  rejections: Rejection[]
  close(): Promise<void>
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/
/** Lambda's synchronous payload limit. */
const MAX_PAYLOAD = 6 * 1024 * 1024

/**
 * A local stand-in for the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on 127.0.0.1: it
 * verifies the SigV4 signature of every call with AWS's signer, then runs the named JavaScript handler in process
 * and answers as Lambda does (200 with the result or `X-Amz-Function-Error`, 202 for `Event`, errors with
 * `X-Amzn-ErrorType`).
 */
export async function startLambdaService(options: { region: string; keys: AwsKey[]; functions: Record<string, LambdaHandler> }): Promise<LambdaService> {
  const keys = new Map(options.keys.map((key) => [key.accessKeyId, key]))
  const functions = new Map(Object.entries(options.functions))
  const invocations: Invocation[] = []
  const rejections: Rejection[] = []
  const refuse = (res: ServerResponse, status: number, type: string, message: string) => {
    rejections.push({ status, type, message })
    const body = JSON.stringify({ Type: 'User', message })
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.lambda/`, 'x-amzn-requestid': randomUUID() })
    res.end(body)
  }
  const backend = await startBackend((req, res, body) => {
    void (async () => {
      const url = new URL(req.url!, 'http://lambda')
      const path = INVOKE_PATH.exec(url.pathname)
      if (req.method !== 'POST' || !path) return refuse(res, 404, 'UnknownOperationException', `No operation at ${req.method} ${url.pathname}`)
      const check = await verifySignature(req, body, { service: 'lambda', region: options.region }, keys)
      if (!check.ok) return refuse(res, 403, check.type, check.message)
      let functionName = decodeURIComponent(path[1]!)
      let qualifier = url.searchParams.get('Qualifier') ?? undefined
      // A name, a partial ARN or a full ARN, any of them with a `:qualifier` suffix.
      const parts = functionName.split(':')
      const named = functionName.startsWith('arn:') ? parts.slice(6) : parts.length >= 3 && parts[1] === 'function' ? parts.slice(2) : parts
      functionName = named[0]!
      if (named[1]) qualifier = named[1]
      const handler = functions.get(functionName)
      if (!handler) return refuse(res, 404, 'ResourceNotFoundException', `Function not found: ${functionName}`)
      if (body.length > MAX_PAYLOAD) return refuse(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation')
      let event: unknown
      try {
        event = JSON.parse(body.toString('utf8'))
      } catch {
        return refuse(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json')
      }
      const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse')
      invocations.push({ functionName, qualifier, invocationType, accessKeyId: check.key.accessKeyId, event })
      const context = { functionName, qualifier, invocationType, awsRequestId: randomUUID() }
      const headers = { 'content-type': 'application/json', 'x-amzn-requestid': context.awsRequestId, 'x-amz-executed-version': qualifier ?? '$LATEST' }
      if (invocationType === 'Event') {
        res.writeHead(202, headers)
        res.end()
        void Promise.resolve().then(() => handler(event, context)).catch(() => undefined)
        return
      }
      try {
        const result = await handler(event, context)
        res.writeHead(200, headers)
        res.end(result === undefined ? 'null' : JSON.stringify(result))
      } catch (error) {
        if (error instanceof ServiceError) return refuse(res, error.status, error.type, error.message)
        const err = error as Error
        res.writeHead(200, { ...headers, 'x-amz-function-error': error instanceof HandledError ? 'Handled' : 'Unhandled' })
        res.end(JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: String(err.stack).split('\n') }))
      }
    })().catch((error: unknown) => {
      res.writeHead(500)
      res.end(String(error))
    })
  })
  return {
    url: backend.url,
    region: options.region,
    backend,
    keys,
    functions,
    invocations,
    rejections,
    close: () => backend.close(),
  }
}
