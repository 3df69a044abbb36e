/** What a span attribute may hold. */
export type TraceValue = string | number | boolean

/** One span of a traced exchange: annotated, marked failed, ended. */
export interface TraceSpan {
  set(name: string, value: TraceValue): void
  /** Marks the span failed: `error.type` and an error status whose description is `message`. */
  fail(errorType: string, message?: string): void
  /** Ends the span; the span current when it began is current again. */
  end(): void
}

/**
 * The trace of one sampled exchange, on `Exchange.trace`. It is absent when tracing is off or the request was not
 * sampled, so each step checks `exchange.trace === undefined` and allocates nothing then.
 *
 * The exchange carries its current span instead of an AsyncLocalStorage context (the SDK's async-hooks context
 * manager is not a dependency): one exchange runs its steps one after another (a group tries its children in
 * turn), so a span that begins is a child of the one current, and is current itself until it ends.
 */
export interface ExchangeTrace {
  /** The trace id, 32 hex digits, for the access log and error bodies. */
  readonly traceId: string
  /** Starts a span under the current one: `client` for a call the gateway makes (an attempt, a token fetch). */
  begin(name: string, kind: 'internal' | 'client', attributes?: Readonly<Record<string, TraceValue>>): TraceSpan
  /** Puts the current span's `traceparent` and `tracestate` into a flat header list, replacing any there. */
  inject(headers: string[]): void
}
