/** JSON pointers into an OpenAPI document (RFC 6901), and how ajv refers to the schemas they point at. */

/** The id under which the whole document is registered with ajv; schemas are referred to as `openapi#/pointer`. */
export const DOCUMENT_ID = 'openapi'

/** Ajv's reference to the schema at a JSON pointer of the document. */
export function schemaRef(pointer: string): { $ref: string } {
  return { $ref: `${DOCUMENT_ID}#${pointer.split('/').map((part) => encodeURIComponent(part)).join('/')}` }
}

/** A key as one pointer segment: `/pets/{id}` becomes `~1pets~1{id}`. */
export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** One pointer segment as the key it stands for: `~1pets~1{id}` becomes `/pets/{id}`. */
export function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~')
}

/** The value at `pointer` in `document`, or undefined when the path leads nowhere. */
export function nodeAt(document: unknown, pointer: string): unknown {
  let node = document
  for (const raw of pointer.split('/').slice(1)) {
    const key = unescapePointer(raw)
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}
