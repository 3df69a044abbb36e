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
