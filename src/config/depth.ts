/**
 * How deep a config may nest: objects and lists inside each other. Real configs stay below 20 (a load balancer
 * inside a failover group inside an API is about 10); the bound keeps every recursive walk over a config (secret
 * references, relative paths, the schema, building the endpoint tree) far from the stack's limit, where a
 * hostile or broken document would otherwise end in "Maximum call stack size exceeded".
 */
export const MAX_CONFIG_DEPTH = 64

/** The path of the first value nested deeper than `max`, or undefined when none is. Walks without recursion. */
export function tooDeepAt(data: unknown, max = MAX_CONFIG_DEPTH): Array<string | number> | undefined {
  const pending: Array<{ value: unknown; path: Array<string | number> }> = [{ value: data, path: [] }]
  while (pending.length > 0) {
    const { value, path } = pending.pop()!
    if (typeof value !== 'object' || value === null) continue
    if (path.length >= max) return path
    if (Array.isArray(value)) value.forEach((item, index) => pending.push({ value: item, path: [...path, index] }))
    else for (const [key, item] of Object.entries(value)) pending.push({ value: item, path: [...path, key] })
  }
  return undefined
}
