/** Paths into parsed documents, for tests that replace each value of a real document with a wrong one. */
export type Path = Array<string | number>

/** Every leaf and object of `value`, with its path. */
export function* places(value: unknown, path: Path = []): Generator<Path> {
  if (path.length > 0) yield path
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) yield* places(child, [...path, Array.isArray(value) ? Number(key) : key])
  }
}

/** A copy of `document` with `value` at `path`. */
export function replaced(document: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(document) as Record<string | number, any>
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key]
  node[path.at(-1)!] = value
  return copy
}
