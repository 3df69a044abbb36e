import { MIMEType } from 'node:util'

/** One part of a multipart message: its headers (names in lower case) and its bytes. */
export interface MessagePart {
  headers: Map<string, string>
  body: Buffer
}

/** Whether a content type is `multipart/related`, the wrapping of MTOM and SOAP with Attachments messages. */
export function isMultipartRelated(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*multipart\/related\s*(;|$)/i.test(contentType)
}

/** The SOAP envelope of a message: the body itself, or an MTOM message's root part; undefined when that cannot be read. */
export async function envelopeOf(body: Buffer, contentType: string | undefined): Promise<Buffer | undefined> {
  if (!isMultipartRelated(contentType)) return body
  const root = await rootPart(body, contentType!)
  return 'problem' in root ? undefined : root.body
}

/**
 * The root part of a `multipart/related` message, as MTOM/XOP (RFC 2387, W3C XOP) and SOAP with Attachments
 * send a SOAP envelope: the part whose Content-ID the `start` parameter names, or else the first part. A message
 * that is not one names what is wrong. The bytes are split by formidable's multipart parser.
 */
export async function rootPart(body: Buffer, contentType: string): Promise<MessagePart | { problem: string }> {
  let type: MIMEType
  try {
    type = new MIMEType(contentType.trim())
  } catch {
    return { problem: `the content type "${contentType}" cannot be read` }
  }
  const boundary = type.params.get('boundary')
  if (!boundary) return { problem: 'the multipart/related content type has no boundary' }
  let parts: MessagePart[]
  try {
    parts = await splitParts(body, boundary)
  } catch {
    return { problem: 'the multipart/related body is cut short or malformed' }
  }
  if (parts.length === 0) return { problem: 'the multipart/related body has no part' }
  const start = type.params.get('start')
  if (start === null) return parts[0]!
  const root = parts.find((part) => sameContentId(part.headers.get('content-id'), start))
  return root ?? { problem: `no part has the Content-ID ${start} that the start parameter names` }
}

async function splitParts(body: Buffer, boundary: string): Promise<MessagePart[]> {
  // Loaded on the first multipart message: most SOAP APIs never see one, and the package pulls in its form handling.
  const { MultipartParser } = await import('formidable')
  const parser = new MultipartParser()
  parser.initWithBoundary(boundary)
  const parts: MessagePart[] = []
  let headers = new Map<string, string>()
  let chunks: Buffer[] = []
  let field = ''
  let value = ''
  parser.end(body)
  // The parser hands out slices of the buffers it was written: each event is (name, buffer, start, end).
  for await (const event of parser as AsyncIterable<{ name: string; buffer?: Buffer; start?: number; end?: number }>) {
    const text = () => event.buffer!.toString('latin1', event.start, event.end)
    switch (event.name) {
      case 'partBegin':
        headers = new Map()
        chunks = []
        field = value = ''
        break
      case 'headerField':
        field += text()
        break
      case 'headerValue':
        value += text()
        break
      case 'headerEnd':
        headers.set(field.trim().toLowerCase(), value.trim())
        field = value = ''
        break
      case 'partData':
        chunks.push(event.buffer!.subarray(event.start, event.end))
        break
      case 'partEnd':
        parts.push({ headers, body: Buffer.concat(chunks) })
        break
    }
  }
  return parts
}

/** Content-IDs compare without their angle brackets (`start="<root@x>"` names `Content-ID: <root@x>`). */
function sameContentId(contentId: string | undefined, start: string): boolean {
  const bare = (id: string) => id.trim().replace(/^<(.*)>$/, '$1')
  return contentId !== undefined && bare(contentId) === bare(start)
}
