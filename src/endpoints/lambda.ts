import type { LambdaEndpointConfig } from './schema.ts'
import { lambdaRegion } from '../lambda/schema.ts'
import { credentialProvider } from '../lambda/credentials.ts'
import { buildEvent } from '../lambda/events.ts'
import { amazonTraceHeader } from '../lambda/trace-header.ts'
import { CredentialsError, defaultLambdaEndpoint, LambdaInvoker, OversizedResult, type InvokeResult } from '../lambda/invoke.ts'
import { emptyResponse, functionErrorResponse, gatewayError, MalformedResult, resultResponse } from '../lambda/result.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import { classifyFailure } from '../core/failure.ts'

/** Lambda accepts at most 6 MB (6 MiB) of event for a synchronous invocation; larger requests are refused here. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024


/**
 * An AWS Lambda function as a leaf endpoint: the request becomes an event (API Gateway v1 or v2, or WSO2's
 * format), the function's result becomes the response. Throttling, service errors and unreachable endpoints are
 * failures a group can fail over on; a function that throws is the function's answer, a 502, and not a failure of
 * the endpoint (invoking it again elsewhere would run its side effects twice).
 */
export class LambdaEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = false
  readonly #config: LambdaEndpointConfig
  readonly #region: string
  readonly #endpointUrl: string
  readonly #invoker: LambdaInvoker
  #sent = 0
  #failed = 0
  #throttled = 0
  #functionErrors = 0

  constructor(id: string, config: LambdaEndpointConfig) {
    this.id = id
    this.#config = config
    this.#region = lambdaRegion(config)
    this.#endpointUrl = config.endpointUrl ?? defaultLambdaEndpoint(this.#region)
    this.#invoker = new LambdaInvoker(
      { function: config.function, qualifier: config.qualifier, region: this.#region, endpointUrl: this.#endpointUrl, timeouts: config.timeouts },
      credentialProvider(config.credentials, this.#region),
    )
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    this.#sent++
    let body: Buffer | null
    try {
      body = exchange.body === null ? null : await readBody(exchange.body, MAX_EVENT_BYTES)
    } catch (error) {
      if (error instanceof BodyTooLarge) return tooLarge(exchange)
      throw new EndpointError(signal.aborted ? 'aborted' : 'client-body', this.id, `${this.id}: could not read the request body`, { cause: error })
    }
    // The event needs the whole body anyway; keeping it buffered lets a failover group send it to another region.
    exchange.body = body
    const event = Buffer.from(buildEvent(this.#config.eventFormat, exchange, body))
    if (event.length > MAX_EVENT_BYTES) return tooLarge(exchange)

    let result: InvokeResult
    try {
      result = await this.#invoker.invoke(event, this.#config.invocationType, signal, exchange.trace && traceHeader(exchange.headers))
    } catch (error) {
      this.#failed++
      throw this.#invokeFailure(error)
    }
    if (result.status === 202 && this.#config.invocationType === 'Event') return emptyResponse(202)
    if (result.status === 413) {
      return gatewayError('PAYLOAD_TOO_LARGE', exchange.requestId, 'The request is larger than the Lambda function accepts')
    }
    if (result.status !== 200) {
      this.#failed++
      if (result.status === 429) this.#throttled++
      throw this.#serviceError(result)
    }
    const functionError = result.headers['x-amz-function-error']
    if (functionError) {
      this.#functionErrors++
      return functionErrorResponse(String(functionError), result.payload, exchange.requestId)
    }
    try {
      return resultResponse(result.payload)
    } catch (error) {
      if (!(error instanceof MalformedResult)) throw error
      this.#failed++
      throw new EndpointError('protocol', this.id, `${this.id}: ${error.message}`)
    }
  }

  ready(): boolean {
    return !this.#invoker.closed
  }

  /** What the console shows; credentials appear by type only, never their keys. */
  describe(): EndpointStatus {
    const credentials = this.#config.credentials
    return {
      id: this.id,
      type: 'lambda',
      state: this.#invoker.closed ? 'closed' : 'active',
      function: this.#config.function,
      qualifier: this.#config.qualifier,
      region: this.#region,
      endpointUrl: this.#endpointUrl,
      invocationType: this.#config.invocationType,
      eventFormat: this.#config.eventFormat,
      credentials: credentials.type === 'assume-role' ? { type: credentials.type, roleArn: credentials.roleArn, source: credentials.source.type } : { type: credentials.type },
      sent: this.#sent,
      failed: this.#failed,
      throttled: this.#throttled,
      functionErrors: this.#functionErrors,
    }
  }

  async close(): Promise<void> {
    await this.#invoker.close()
  }

  #invokeFailure(error: unknown): EndpointError {
    if (error instanceof CredentialsError) {
      // STS unreachable keeps its network kind; a refusal (or no credentials at all) counts like a failure status.
      const network = classifyFailure(error.cause, this.id)
      const kind = network.kind === 'protocol' ? 'status' : network.kind
      return new EndpointError(kind, this.id, `${this.id}: ${error.message}`, { cause: error })
    }
    if (error instanceof OversizedResult) return new EndpointError('protocol', this.id, `${this.id}: ${error.message}`)
    return classifyFailure(error, this.id)
  }

  /** A refusal by the Lambda service (throttling, missing function, bad signature, service fault). */
  #serviceError(result: InvokeResult): EndpointError {
    let type = String(result.headers['x-amzn-errortype'] ?? '').split(':')[0]
    let message = ''
    try {
      const body = JSON.parse(result.payload.toString('utf8')) as { Type?: unknown; __type?: unknown; Message?: unknown; message?: unknown }
      if (!type && typeof body.__type === 'string') type = body.__type
      const text = body.Message ?? body.message
      if (typeof text === 'string') message = text.slice(0, 512)
    } catch {
      // The service's body is informative only.
    }
    const what = [type, message].filter(Boolean).join(': ')
    return new EndpointError('status', this.id, `${this.id}: the Lambda service answered ${result.status}${what ? ` (${what})` : ''}`, { status: result.status })
  }
}

function tooLarge(exchange: Exchange): BackendResponse {
  return gatewayError('PAYLOAD_TOO_LARGE', exchange.requestId, `The request is larger than a Lambda event may be (${MAX_EVENT_BYTES} bytes)`)
}

/** The X-Ray form of the traceparent the attempt's span put on the exchange. */
function traceHeader(headers: readonly string[]): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'traceparent') return amazonTraceHeader(headers[i + 1]!)
  }
  return undefined
}
