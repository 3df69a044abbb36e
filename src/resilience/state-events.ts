import { channel } from 'node:diagnostics_channel'
import type { Endpoint } from '../core/endpoint.ts'
import type { Logger } from '../telemetry/logger.ts'

/** A leaf changed state; published once per change, never per request. */
export interface StateChange {
  endpoint: Endpoint
  id: string
  from: string
  to: string
  reason: string
  /** When a suspension ends, as an ISO time. */
  until?: string
}

/**
 * Leaves publish their state changes here; each gateway instance subscribes and logs those of its own
 * endpoints. A diagnostics channel keeps endpoints free of any reference to a logger.
 */
export const stateChanges = channel('portico:endpoint:state')

export function publishStateChange(change: StateChange): void {
  if (stateChanges.hasSubscribers) stateChanges.publish(change)
}

/**
 * Logs the state changes of the endpoints `owns` accepts: a warning when a leaf leaves `active`, info when it
 * returns. Returns the unsubscribe function.
 */
export function logStateChanges(logger: Logger, owns: (endpoint: Endpoint) => boolean): () => void {
  const onMessage = (message: unknown) => {
    const change = message as StateChange
    if (!owns(change.endpoint)) return
    const { endpoint: _endpoint, ...fields } = change
    const text = `endpoint ${change.id}: ${change.from} -> ${change.to} (${change.reason})`
    if (change.to === 'active') logger.info({ endpointState: fields }, text)
    else logger.warn({ endpointState: fields }, text)
  }
  stateChanges.subscribe(onMessage)
  return () => stateChanges.unsubscribe(onMessage)
}
