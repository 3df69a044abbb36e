import { formatPath } from '../config/path.ts'

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The fields that differ between two versions of a config object, as `portico validate` writes paths
 * (`endpoints.production.url`); names only, never values, so a changed secret shows as its field alone. Arrays
 * of different length are one change; equal-length arrays are compared item by item.
 */
export function changedFields(before: unknown, after: unknown, path: (string | number)[] = []): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    return keys.flatMap((key) => changedFields(before[key], after[key], [...path, key]))
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => changedFields(item, after[index], [...path, index]))
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [formatPath(path) || '(all)']
}
