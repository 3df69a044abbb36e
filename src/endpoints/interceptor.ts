import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'

/**
 * Wraps an endpoint and is one, as undici's interceptors wrap a dispatcher: the suspension guard, backend
 * security and the REST-to-SOAP bridge each take the endpoint inside and add one concern to it.
 */
export type Interceptor = (inner: Endpoint) => Endpoint

/** Wraps `endpoint` in `interceptors`, the first listed outermost (undici's `compose`). */
export function compose(endpoint: Endpoint, interceptors: readonly Interceptor[]): Endpoint {
  let composed = endpoint
  for (let i = interceptors.length - 1; i >= 0; i--) composed = interceptors[i]!(composed)
  return composed
}

/**
 * What every interceptor has in common: it is known by the id of the endpoint inside and hands on whatever it
 * does not change. A subclass writes `send` and adds its own part to `describe()` and `close()`.
 */
export abstract class Delegating implements Endpoint {
  readonly id: string
  protected readonly inner: Endpoint

  constructor(inner: Endpoint) {
    this.id = inner.id
    this.inner = inner
  }

  get isPrototype(): boolean {
    return this.inner.isPrototype
  }

  abstract send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse>

  targetPath(exchange: Exchange): string {
    return this.inner.targetPath?.(exchange) ?? (exchange.query ? `${exchange.path}?${exchange.query}` : exchange.path || '/')
  }

  ready(now: number): boolean {
    return this.inner.ready(now)
  }

  describe(): EndpointStatus {
    return this.inner.describe()
  }

  resetState(reason: string): boolean {
    return this.inner.resetState?.(reason) ?? false
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  /** Whether `endpoint` is this one or one inside it: a leaf's state changes name its guard, which need not be outermost. */
  wraps(endpoint: object): boolean {
    return endpoint === this || (this.inner instanceof Delegating ? this.inner.wraps(endpoint) : endpoint === this.inner)
  }
}
