import type { Transaction } from 'kysely'
import type { Tables } from './tables.ts'
import { redacted } from './write-only-secrets.ts'

const now = () => new Date().toISOString()

/** One audit entry, written in the transaction of the change it records: who, what, before and after, secrets redacted. */
export async function audit(tx: Transaction<Tables>, actor: string, action: string, target: string, before: unknown, after: unknown): Promise<void> {
  await tx
    .insertInto('audit_log')
    .values({ at: now(), actor, action, target, before: before === undefined ? null : JSON.stringify(redacted(before)), after: after === undefined ? null : JSON.stringify(redacted(after)) })
    .execute()
}
