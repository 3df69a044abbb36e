import { servesLiveTraffic, servesPrototypes } from '../config/lifecycle.ts'
import type { Endpoint } from '../core/endpoint.ts'
import type { Snapshot } from './snapshot.ts'

/** An API that cannot answer its clients now, and the state of each endpoint it could use. */
export interface UnreadyApi {
  api: string
  reason: string
  endpoints: Array<{ id: string; state: string }>
}

/**
 * Readiness of a running snapshot, as a Kubernetes readiness probe asks it: every API that serves traffic has an
 * endpoint that can take a request now. BLOCKED and RETIRED APIs answer with their errors by design, and a
 * CREATED or PROTOTYPED API without a prototype endpoint is a draft: neither holds readiness back.
 */
export function unreadyApis(snapshot: Snapshot, now: number): UnreadyApi[] {
  const unready: UnreadyApi[] = []
  for (const api of snapshot.apis) {
    const live = servesLiveTraffic(api.lifecycle)
    if (!live && !servesPrototypes(api.lifecycle)) continue
    const endpoints = new Set<Endpoint>()
    for (const resource of api.resources) {
      for (const endpoint of Object.values(resource.endpoints)) if (endpoint && endpoint.isPrototype !== live) endpoints.add(endpoint)
    }
    if (endpoints.size === 0) {
      if (live) unready.push({ api: api.key, reason: `${api.lifecycle} with no endpoint that serves it (a prototype endpoint serves only CREATED and PROTOTYPED APIs): every request is answered with an error`, endpoints: [] })
      continue
    }
    if ([...endpoints].some((endpoint) => endpoint.ready(now))) continue
    unready.push({
      api: api.key,
      reason: 'no endpoint can take a request now',
      endpoints: [...endpoints].map((endpoint) => ({ id: endpoint.id, state: endpoint.describe().state })),
    })
  }
  return unready
}
