import type { IncomingMessage, ServerResponse } from 'node:http'
import { stateChanges } from '../resilience/state-events.ts'

/** How often the stream looks for changes in attempts and failures, which publish no event. */
const POLL = 1000
/** A comment this often keeps proxies and browsers from closing a quiet stream. */
const KEEP_ALIVE = 15_000
/** Streams open at once on one node; more are refused rather than each polling the gateway. */
const MAX_STREAMS = 32
/** A client that reads nothing while this much waits for it is cut off, rather than buffered for without end. */
const MAX_UNREAD_BYTES = 1024 * 1024

let open = 0

/**
 * The endpoint trees as server-sent events (`event: endpoints`): the whole view at once, then again whenever it
 * changes. A state change (a suspension, a leaf back) is sent at once; counters are looked at every second.
 */
export function streamEndpoints(req: IncomingMessage, res: ServerResponse, read: () => Promise<unknown>): boolean {
  if (open >= MAX_STREAMS) return false
  open++
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
  let last = ''
  let quietSince = Date.now()
  let busy = false
  const send = async () => {
    if (busy || res.destroyed) return
    if (res.writableLength > MAX_UNREAD_BYTES) return void res.destroy()
    busy = true
    try {
      const text = JSON.stringify(await read())
      if (text !== last) {
        last = text
        quietSince = Date.now()
        res.write(`event: endpoints\ndata: ${text}\n\n`)
      } else if (Date.now() - quietSince >= KEEP_ALIVE) {
        quietSince = Date.now()
        res.write(': keep-alive\n\n')
      }
    } catch {
      res.destroy()
    } finally {
      busy = false
    }
  }
  const onChange = () => void send()
  const timer = setInterval(onChange, POLL)
  stateChanges.subscribe(onChange)
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    open--
    clearInterval(timer)
    stateChanges.unsubscribe(onChange)
  }
  req.on('close', close)
  res.on('close', close)
  void send()
  return true
}
