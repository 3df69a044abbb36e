import type { Logger } from '../../telemetry/logger.ts'
import type { DocumentReport } from './document.ts'
import { documentReports } from './document-reports.ts'

/**
 * Logs what each OpenAPI document a prototype loads leaves out or warns about, one structured line per load
 * (and one per problem found later while serving), instead of the validator's plain-text lines. Returns the
 * unsubscribe function.
 */
export function logDocumentReports(logger: Logger): () => void {
  const onMessage = (message: unknown) => {
    const report = message as DocumentReport
    const problems = report.leftOut.length + report.warnings.length
    const text = `OpenAPI document ${report.file}: ${report.operations} operation(s) served${report.leftOut.length > 0 ? `, ${report.leftOut.length} part(s) left out` : ''}${report.warnings.length > 0 ? `, ${report.warnings.length} warning(s)` : ''}`
    if (problems > 0) logger.warn({ openapi: report }, text)
    else logger.info({ openapi: report }, text)
  }
  documentReports.subscribe(onMessage)
  return () => documentReports.unsubscribe(onMessage)
}
