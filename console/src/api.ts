/** The publisher API (`/api/v1`) and the admin port's read-only views, as the console calls them. */

export interface FieldError {
  path: string
  message: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly errors: FieldError[]
  constructor(status: number, code: string, message: string, errors: FieldError[] = []) {
    super(message)
    this.status = status
    this.code = code
    this.errors = errors
  }
}

export interface Answer<T> {
  data: T
  etag: string | undefined
}

const TOKEN_KEY = 'portico.console.token'

/** The admin token lives in the tab's session storage: closing the tab signs out. */
export const session = {
  get token(): string {
    return sessionStorage.getItem(TOKEN_KEY) ?? ''
  },
  set token(value: string) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value)
    else sessionStorage.removeItem(TOKEN_KEY)
  },
}

export async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(path.startsWith('/admin') ? path : `/api/v1${path}`, {
    method,
    headers: {
      ...(session.token ? { authorization: `Bearer ${session.token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await response.text()
  let data: any
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = text
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.code ?? `HTTP_${response.status}`, data?.message ?? response.statusText, Array.isArray(data?.errors) ? data.errors : [])
  }
  return { data, etag: response.headers.get('etag') ?? undefined }
}

export const get = <T = any>(path: string) => call<T>('GET', path).then((answer) => answer.data)

/**
 * Follows a server-sent event stream with the token in a header (EventSource cannot send one). Calls `onEvent`
 * with each event's data as JSON; reconnects after a pause until `signal` aborts.
 */
export async function follow(path: string, onEvent: (data: any) => void, onState: (connected: boolean) => void, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch(`/api/v1${path}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${session.token}` }, signal })
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`)
      onState(true)
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = event.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n')
          if (data) onEvent(JSON.parse(data))
        }
      }
    } catch {
      if (signal.aborted) return
    }
    onState(false)
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
}
