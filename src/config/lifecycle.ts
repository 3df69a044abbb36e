/** API lifecycle states, as WSO2 API Manager names them. */
export const LIFECYCLE_STATES = ['CREATED', 'PROTOTYPED', 'PUBLISHED', 'BLOCKED', 'DEPRECATED', 'RETIRED'] as const
export type LifecycleState = (typeof LIFECYCLE_STATES)[number]

/**
 * The transitions WSO2's default API lifecycle allows (APILifeCycle.xml): Publish, Deploy as a Prototype,
 * Demote to Created, Block, Re-Publish, Deprecate, Retire. RETIRED is final.
 */
const TRANSITIONS: Record<LifecycleState, readonly LifecycleState[]> = {
  CREATED: ['PUBLISHED', 'PROTOTYPED'],
  PROTOTYPED: ['PUBLISHED', 'CREATED'],
  PUBLISHED: ['BLOCKED', 'DEPRECATED', 'PROTOTYPED', 'CREATED'],
  BLOCKED: ['PUBLISHED', 'DEPRECATED'],
  DEPRECATED: ['RETIRED'],
  RETIRED: [],
}

export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return from === to || TRANSITIONS[from].includes(to)
}

export function allowedTransitions(from: LifecycleState): readonly LifecycleState[] {
  return TRANSITIONS[from]
}

/** Whether production and sandbox endpoints serve the API (prototype endpoints serve the others). */
export function servesLiveTraffic(state: LifecycleState): boolean {
  return state === 'PUBLISHED' || state === 'DEPRECATED'
}

/** Whether a prototype endpoint may serve the API. */
export function servesPrototypes(state: LifecycleState): boolean {
  return state === 'CREATED' || state === 'PROTOTYPED'
}
