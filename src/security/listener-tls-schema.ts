import { z } from 'zod'

/**
 * TLS 1.3's suites and, for TLS 1.2, only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305):
 * Mozilla's "intermediate" profile, which every client of the last decade speaks.
 */
export const MODERN_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/** A PEM file's path (watched for changes), or PEM text itself, as a `${file:}` or `${env:}` reference gives it. */
const Pem = z.string().min(1)

const Certificate = z.strictObject({
  /** The certificate chain: the server's certificate first, then the intermediates. */
  cert: Pem,
  key: Pem,
  /** For an encrypted key; write it as a `${env:}` or `${file:}` reference. */
  passphrase: z.string().min(1).optional(),
})

const ClientCertificates = z.strictObject({
  /** `require`: no connection without a certificate the CA bundle verifies; `request`: ask, and serve without one. */
  mode: z.enum(['request', 'require']).default('require'),
  /** The CA bundle that issues the client certificates. */
  ca: Pem,
  /**
   * Send the verified certificate to the backend in this header, as Envoy's `x-forwarded-client-cert` does:
   * `Hash=<sha-256 hex>;Subject="CN=alice,O=Example"`. A client's own header of that name is always removed.
   */
  forwardHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
    .transform((name) => name.toLowerCase())
    .optional(),
})

/** TLS on a listener (docs/tls.md). */
export const ListenerTls = z.strictObject({
  /** The first one serves clients that send no SNI name or one no certificate covers; the others by SNI. */
  certificates: z.array(Certificate).min(1),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** OpenSSL cipher list; TLS 1.3 suites are named `TLS_...`. */
  ciphers: z.string().min(1).default(MODERN_CIPHERS),
  clientCertificates: ClientCertificates.optional(),
  /** Re-read certificate files when they change (SIGHUP re-reads them in any case). */
  watch: z.boolean().default(true),
})

/** A plain listener that answers every request with a 308 to the same URL on HTTPS. */
export const RedirectToHttps = z.strictObject({
  /** The HTTPS port clients are sent to; 443 is left out of the URL. */
  port: z.number().int().min(1).max(65535),
})

export type ListenerTlsConfig = z.output<typeof ListenerTls>
