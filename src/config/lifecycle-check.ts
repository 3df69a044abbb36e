import { allowedTransitions, canTransition, type LifecycleState } from './lifecycle.ts'
import type { ConfigIssue } from './load.ts'
import type { ConfigModel } from './schema.ts'

/** Issues for APIs whose lifecycle state changes between two configs along a transition that is not allowed. */
export function checkTransitions(running: ConfigModel, next: ConfigModel, file = 'config'): ConfigIssue[] {
  // An API that is the running one's very object (a config reader's for unchanged text) kept its state.
  let states: Map<string, LifecycleState> | undefined
  const issues: ConfigIssue[] = []
  next.apis.forEach((api, index) => {
    if (running.apis[index] === api) return
    states ??= new Map(running.apis.map((known) => [`${known.name}:${known.version}`, known.lifecycle]))
    const from = states.get(`${api.name}:${api.version}`)
    if (from === undefined || canTransition(from, api.lifecycle)) return
    const allowed = allowedTransitions(from)
    issues.push({
      file,
      path: `apis[${index}].lifecycle`,
      message: `cannot change from ${from} to ${api.lifecycle}; from ${from} it may become ${allowed.length ? allowed.join(' or ') : 'nothing (final state)'}`,
    })
  })
  return issues
}
