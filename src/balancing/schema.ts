import { z } from 'zod'
import { Duration } from '../core/duration.ts'

export const BALANCING_ALGORITHMS = ['roundRobin', 'weightedRoundRobin', 'leastConnections', 'powerOfTwoChoices'] as const

/** Sticky sessions: requests of one session go to the endpoint that served its first request. */
export const Session = z
  .strictObject({
    /**
     * `cookie`: the gateway sets a cookie naming the endpoint. `header`: the value of header `name` is the
     * session. `clientSession`: WSO2's simpleClientSession, the client's `clientID` header is the session.
     * `soap`: WSO2's soap session, the text of a SOAP header (`soapHeader`) of the request's envelope.
     */
    type: z.enum(['cookie', 'header', 'clientSession', 'soap']),
    /** For `soap`: the SOAP header that carries the session id; Axis2's ServiceGroupId by default. */
    soapHeader: z.strictObject({ namespace: z.string().min(1), name: z.string().min(1) }).optional(),
    /** Cookie name (default PORTICO_STICKY) or header name (default clientID for clientSession). */
    name: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP token of 1-64 characters').optional(),
    /** A session unused this long is forgotten (the cookie's Max-Age). */
    timeout: Duration.refine((ms) => ms > 0, 'must be more than 0').default(1_800_000),
  })
  .refine((session) => session.type !== 'header' || session.name !== undefined, {
    path: ['name'],
    message: 'is required for a header session: name the header that carries the session id',
  })

export type SessionConfig = z.output<typeof Session>
