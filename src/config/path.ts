/** A field's path as people write it: `apis[0].endpoints.production.url`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out ? `.${key}` : key
  }
  return out
}
