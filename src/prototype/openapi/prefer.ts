/** What a client asks of a prototype through `Prefer: code=404, example=notFound` (Stoplight Prism's convention). */
export interface Preferences {
  code: number | undefined
  example: string | undefined
}

const PREFERENCE = /^\s*([A-Za-z_-]+)\s*=\s*(?:"([^"]*)"|([^\s,;"]*))\s*$/

/** Reads the `Prefer` header; returns a message instead when `code` is not a status code. */
export function parsePreferences(header: string | undefined): Preferences | string {
  const preferences: Preferences = { code: undefined, example: undefined }
  if (header === undefined) return preferences
  // RFC 7240 separates preferences with "," and their parameters with ";"; Prism's own examples use both.
  for (const part of header.split(/[,;]/)) {
    const match = PREFERENCE.exec(part)
    if (!match) continue
    const name = match[1]!.toLowerCase()
    const value = match[2] ?? match[3] ?? ''
    if (name === 'code') {
      if (!/^[1-5]\d\d$/.test(value)) return `Prefer code=${value} is not an HTTP status code`
      preferences.code = Number(value)
    } else if (name === 'example') {
      preferences.example = value
    }
  }
  return preferences
}
