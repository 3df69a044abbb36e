/**
 * How deep a config may nest: objects and lists inside each other. Real configs stay below 20 (a load balancer
 * inside a failover group inside an API is about 10); the bound keeps every recursive walk over a config (secret
 * references, relative paths, the schema, building the endpoint tree) far from the stack's limit, where a
 * hostile or broken document would otherwise end in "Maximum call stack size exceeded".
 */
export const MAX_CONFIG_DEPTH = 64

/** The path of the first value nested deeper than `max`, or undefined when none is. Walks without recursion. */
export function tooDeepAt(data: unknown, max = MAX_CONFIG_DEPTH): Array<string | number> | undefined {
  // Each entry links to its parent, so a path is only built for the value that is too deep: a config of
  // thousands of APIs is walked without an array per value.
  interface Entry {
    value: unknown
    depth: number
    key: string | number
    parent: Entry | undefined
  }
  const pending: Entry[] = [{ value: data, depth: 0, key: '', parent: undefined }]
  while (pending.length > 0) {
    const entry = pending.pop()!
    const { value, depth } = entry
    if (typeof value !== 'object' || value === null) continue
    if (depth >= max) return pathOf(entry)
    if (Array.isArray(value)) value.forEach((item, index) => pending.push({ value: item, depth: depth + 1, key: index, parent: entry }))
    else for (const key of Object.keys(value)) pending.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1, key, parent: entry })
  }
  return undefined
}

function pathOf(entry: { key: string | number; parent: { key: string | number; parent: unknown } | undefined }): Array<string | number> {
  const path: Array<string | number> = []
  for (let at: typeof entry | undefined = entry; at?.parent !== undefined; at = at.parent as typeof entry | undefined) path.unshift(at.key)
  return path
}
