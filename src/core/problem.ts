import { z } from 'zod'

/** Longest problem text kept: enough for any sentence of ours, short of a dump. */
const MAX_PROBLEM_CHARS = 500

/**
 * What went wrong, as one line an operator (`/admin/endpoints`) or a client may read. Errors of this project say
 * it in their message; an error from deep inside (a schema check, a library) may carry a dump of its data, so it
 * is reduced to its first line, and a schema error to its fields and problems.
 */
export function problemText(error: unknown): string {
  if (error instanceof z.ZodError) {
    return bounded(error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`).join('; '))
  }
  const message = error instanceof Error ? error.message : String(error)
  const line = message.split('\n', 1)[0]!.trim()
  return bounded(line || (error instanceof Error ? error.name : 'an unknown error'))
}

function bounded(text: string): string {
  return text.length > MAX_PROBLEM_CHARS ? `${text.slice(0, MAX_PROBLEM_CHARS)}…` : text
}
