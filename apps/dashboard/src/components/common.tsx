import type { ComponentChildren } from 'preact'
import { ApiUnreachable } from '../api.js'
import { formatClock } from '../format.js'

/** An error as the API worded it, or what is wrong with reaching it. Read out at once (role=alert). */
export function ErrorMessage({ error }: { error: Error | undefined }) {
  if (!error) return null
  const unreachable = error instanceof ApiUnreachable
  return (
    <p role="alert" class={unreachable ? 'notice notice-offline' : 'notice notice-error'}>
      {error.message}
    </p>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  )
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>
}

/** One headline figure. `name` lets a test (and a reader of the markup) find it. */
export function Stat({ label, value, name }: { label: string; value: string; name: string }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd data-stat={name}>{value}</dd>
    </div>
  )
}

export function Updated({ at, live }: { at: Date | undefined; live: boolean }) {
  if (!at) return null
  return (
    <p class="updated">
      {live ? 'Live · ' : ''}updated <time dateTime={at.toISOString()}>{formatClock(at)}</time>
    </p>
  )
}
