/** Why the store refused a change; the publisher API turns `kind` into a status code. */
export type StoreErrorKind = 'not-found' | 'invalid' | 'conflict' | 'stale'

export interface FieldIssue {
  /** As `portico validate` writes it, relative to the resource sent: `endpoints.production.url`. */
  path: string
  message: string
}

export class StoreError extends Error {
  readonly kind: StoreErrorKind
  readonly issues: FieldIssue[]
  constructor(kind: StoreErrorKind, message: string, issues: FieldIssue[] = []) {
    super(message)
    this.name = 'StoreError'
    this.kind = kind
    this.issues = issues
  }
}

/** A unique constraint refused the row, on either engine: the record exists, or a concurrent change made it. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code
  const message = (error as Error).message ?? ''
  return code === '23505' || /UNIQUE constraint failed/.test(message)
}
