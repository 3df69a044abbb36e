import { LIFECYCLE_STATES, type LifecycleState } from '../config/lifecycle.ts'

/**
 * The actions of WSO2's default API lifecycle (APILifeCycle.xml in carbon-apimgt) and where each leads from
 * each state. PUBLISHED → PROTOTYPED is "Deploy as a Prototype" as WSO2 4.x's publisher offers it ("Demote to
 * Prototyped" in older lifecycle files, accepted too). RETIRED is final.
 */
const ACTIONS: Record<LifecycleState, readonly { action: string; target: LifecycleState }[]> = {
  CREATED: [
    { action: 'Publish', target: 'PUBLISHED' },
    { action: 'Deploy as a Prototype', target: 'PROTOTYPED' },
  ],
  PROTOTYPED: [
    { action: 'Publish', target: 'PUBLISHED' },
    { action: 'Demote to Created', target: 'CREATED' },
  ],
  PUBLISHED: [
    { action: 'Block', target: 'BLOCKED' },
    { action: 'Deploy as a Prototype', target: 'PROTOTYPED' },
    { action: 'Demote to Created', target: 'CREATED' },
    { action: 'Deprecate', target: 'DEPRECATED' },
  ],
  BLOCKED: [
    { action: 'Deprecate', target: 'DEPRECATED' },
    { action: 'Re-Publish', target: 'PUBLISHED' },
  ],
  DEPRECATED: [{ action: 'Retire', target: 'RETIRED' }],
  RETIRED: [],
}

const ALIASES: Record<string, string> = { 'Demote to Prototyped': 'Deploy as a Prototype' }

/** WSO2's checklist items, offered with Publish; `POST .../lifecycle` takes them as `lifecycleChecklist`. */
export const CHECKLIST = [
  { name: 'Deprecate old versions', value: false, description: 'Deprecate the older PUBLISHED versions of this API' },
  { name: 'Require re-subscription', value: false, description: 'Do not carry the subscriptions of older versions over to this one' },
] as const

/** A state name as WSO2 writes it in any case; PRE-RELEASED (WSO2 4.1+) is PROTOTYPED. */
export function normalizeState(name: string): LifecycleState | undefined {
  const upper = name.toUpperCase().replace(/_/g, '-')
  if (upper === 'PRE-RELEASED') return 'PROTOTYPED'
  return (LIFECYCLE_STATES as readonly string[]).includes(upper) ? (upper as LifecycleState) : undefined
}

export function availableActions(state: LifecycleState): readonly { action: string; target: LifecycleState }[] {
  return ACTIONS[state]
}

/** Where `action` leads from `state`, or why it cannot be taken. Action names match WSO2's, case-insensitively. */
export function takeAction(state: LifecycleState, action: string): { target: LifecycleState; action: string } | { problem: string } {
  const wanted = ALIASES[action] ?? Object.entries(ALIASES).find(([alias]) => alias.toLowerCase() === action.toLowerCase())?.[1] ?? action
  const found = ACTIONS[state].find((candidate) => candidate.action.toLowerCase() === wanted.toLowerCase())
  if (found) return found
  const known = new Set(Object.values(ACTIONS).flatMap((list) => list.map((entry) => entry.action.toLowerCase())))
  const offered = ACTIONS[state].map((entry) => `"${entry.action}"`)
  const why = known.has(wanted.toLowerCase()) ? `"${action}" is not available for an API in state ${state}` : `"${action}" is not a lifecycle action`
  return { problem: `${why}; ${offered.length ? `available: ${offered.join(', ')}` : `${state} is final`}` }
}
