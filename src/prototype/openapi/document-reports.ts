import { channel } from 'node:diagnostics_channel'

/**
 * Loads of OpenAPI documents publish their reports here; a gateway instance logs them (a channel keeps the
 * document free of any logger). A module of its own, so that the log's subscriber does not load the document's
 * parser and validator libraries into a gateway that has no prototype endpoint.
 */
export const documentReports = channel('portico:prototype:openapi')
