import type { ErrorBody } from '@adtrack/contracts'

// Every request the dashboard makes goes through here. It talks to its own origin (analytics-api, or the
// gateway in front of it), which the page's Content-Security-Policy allows and nothing else.

/** A reply that was not a success, worded as the API worded it (ErrorBody.message). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** The API could not be reached at all (network down, server stopped, a gateway with nothing behind it). */
export class ApiUnreachable extends Error {
  constructor(message = 'The analytics API cannot be reached. Is it running? Retrying…') {
    super(message)
    this.name = 'ApiUnreachable'
  }
}

/** Statuses a gateway or load balancer answers when the service behind it is gone, not the API's own word. */
const UPSTREAM_DOWN = new Set([502, 503, 504])

async function errorOf(res: Response): Promise<Error> {
  let body: Partial<ErrorBody> | undefined
  try {
    body = (await res.json()) as Partial<ErrorBody>
  } catch {
    body = undefined
  }
  if (UPSTREAM_DOWN.has(res.status) && body?.code !== 'STORES_UNAVAILABLE') {
    return new ApiUnreachable(
      `The analytics API is unavailable (${res.status}${body?.message ? `: ${body.message}` : ''}). Retrying…`,
    )
  }
  const message = typeof body?.message === 'string' && body.message ? body.message : res.statusText
  return new ApiError(res.status, message || `HTTP ${res.status}`, body?.code)
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  body?: unknown
  /** The admin key, sent as `Authorization: Bearer`; never in the URL. */
  adminKey?: string
  signal?: AbortSignal
}

async function send(
  path: string,
  options: RequestOptions,
  headers: Record<string, string>,
): Promise<Response> {
  if (options.adminKey !== undefined) headers.authorization = `Bearer ${options.adminKey}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  try {
    return await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      // NOTE: no-store, so that a 304 reaches this code rather than being replaced by the browser's copy;
      // conditional requests are made on purpose (getIfChanged), never by the HTTP cache behind our back.
      cache: 'no-store',
      credentials: 'omit',
      signal: options.signal ?? null,
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiUnreachable()
  }
}

/** A JSON reply, or a thrown ApiError / ApiUnreachable. A 204 resolves to undefined. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(path, options, { accept: 'application/json' })
  if (!res.ok) throw await errorOf(res)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

export type Conditional<T> = { changed: true; data: T; etag: string | undefined } | { changed: false }

/**
 * GET with `If-None-Match`: a 304 says nothing changed since `etag`, so the page keeps what it shows and
 * the server sends no body. This is what makes polling every 2 s cheap.
 */
export async function getIfChanged<T>(
  path: string,
  etag: string | undefined,
  signal?: AbortSignal,
): Promise<Conditional<T>> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (etag) headers['if-none-match'] = etag
  const res = await send(path, signal ? { signal } : {}, headers)
  if (res.status === 304) return { changed: false }
  if (!res.ok) throw await errorOf(res)
  return { changed: true, data: (await res.json()) as T, etag: res.headers.get('etag') ?? undefined }
}

/** Path segment for an ad id (ids may hold `.` and `:`; encoded all the same). */
export const adPath = (id: string) => `/ads/${encodeURIComponent(id)}`
