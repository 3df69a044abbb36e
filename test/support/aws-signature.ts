import type { IncomingMessage } from 'node:http'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'

export interface AwsKey {
  accessKeyId: string
  secretAccessKey: string
  /** Set for temporary credentials: the request must carry it as `X-Amz-Security-Token`. */
  sessionToken?: string
}

export type SignatureCheck = { ok: true; key: AwsKey } | { ok: false; type: string; message: string }

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const MAX_SKEW_MS = 5 * 60_000

/**
 * Verifies the SigV4 signature of a received request the way AWS does: looks up the secret for the access key,
 * signs the received method, path, query, signed headers and body again with AWS's own signer, and compares.
 * The payload hash is always recomputed from the body received, so a tampered body fails.
 */
export async function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  expected: { service: string; region: string },
  keys: ReadonlyMap<string, AwsKey>,
): Promise<SignatureCheck> {
  const match = AUTHORIZATION.exec(String(req.headers.authorization ?? ''))
  if (!match) return { ok: false, type: 'IncompleteSignatureException', message: 'The request is not signed with AWS4-HMAC-SHA256' }
  const [, accessKeyId, , region, service, signedHeaderList, signature] = match as unknown as string[]
  const key = keys.get(accessKeyId!)
  if (!key) return { ok: false, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' }
  if (service !== expected.service || region !== expected.region) {
    return { ok: false, type: 'InvalidSignatureException', message: `Credential should be scoped to ${expected.region}/${expected.service}` }
  }
  if (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken) {
    return { ok: false, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' }
  }
  const date = AMZ_DATE.exec(String(req.headers['x-amz-date'] ?? ''))
  if (!date) return { ok: false, type: 'IncompleteSignatureException', message: 'X-Amz-Date is missing' }
  const signingDate = new Date(Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!))
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS) {
    return { ok: false, type: 'InvalidSignatureException', message: 'Signature expired' }
  }

  const signedHeaders = signedHeaderList!.split(';')
  const headers: Record<string, string> = {}
  for (const name of signedHeaders) {
    // The payload hash header is recomputed from the body, never trusted.
    if (name === 'x-amz-content-sha256') continue
    const value = req.headers[name]
    if (value === undefined) return { ok: false, type: 'InvalidSignatureException', message: `Signed header ${name} is missing` }
    headers[name] = Array.isArray(value) ? value.join(',') : value
  }
  const url = new URL(req.url!, 'http://verifier')
  const query: Record<string, string | string[]> = {}
  for (const [name, value] of url.searchParams) {
    const existing = query[name]
    query[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value]
  }
  const signer = new SignatureV4({
    service: expected.service,
    region: expected.region,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: headers['x-amz-security-token'] },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: signedHeaders.includes('x-amz-content-sha256'),
  })
  const resigned = await signer.sign(
    { method: req.method!, protocol: 'http:', hostname: url.hostname, path: url.pathname, query, headers, body },
    { signingDate },
  )
  const again = AUTHORIZATION.exec(String(resigned.headers.authorization))
  if (!again || again[5] !== signedHeaderList || again[6] !== signature) {
    return { ok: false, type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' }
  }
  return { ok: true, key }
}
