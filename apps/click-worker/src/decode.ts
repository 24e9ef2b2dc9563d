import { CLICK_MESSAGE_VERSION, ClickMessage, EVENT_MESSAGE_VERSION, EventMessage } from '@adtrack/contracts'
import { Compile } from 'typebox/compile'

const clickValidator = Compile(ClickMessage)
const eventValidator = Compile(EventMessage)

export type Decoded =
  | { ok: true; click: ClickMessage; event?: undefined }
  | { ok: true; event: EventMessage; click?: undefined }
  | { ok: false; reason: string }

/**
 * Parses one Kafka record value and validates it against the contract its `v` names: a click (version 1)
 * or an event (version 2). Never throws.
 * NOTE: both versions share the topic for good: a worker of this version must still count the version 1
 * records an older ingest-api left on it, and POST /ads/click keeps producing them.
 */
export function decodeRecord(value: Buffer | null): Decoded {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty record value' }
  let parsed: unknown
  try {
    parsed = JSON.parse(value.toString('utf8'))
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` }
  }
  const version = (parsed as { v?: unknown } | null)?.v
  if (version === EVENT_MESSAGE_VERSION) {
    if (eventValidator.Check(parsed)) {
      // TRICKY: the date-time format admits what Date cannot hold (a leap second, :60), and Postgres
      // takes it by rolling over, so only here would it be caught: its minute bucket would be NaN.
      if (Number.isFinite(Date.parse(parsed.received_at))) return { ok: true, event: parsed }
      return { ok: false, reason: 'does not match EventMessage v2: /received_at is not a representable time' }
    }
    return { ok: false, reason: `does not match EventMessage v2: ${firstError(eventValidator, parsed)}` }
  }
  if (version === CLICK_MESSAGE_VERSION) {
    if (clickValidator.Check(parsed)) return { ok: true, click: parsed }
    return { ok: false, reason: `does not match ClickMessage v1: ${firstError(clickValidator, parsed)}` }
  }
  // Printed with JSON.stringify and cut short: the value is the sender's, and it goes into a header.
  const shown = JSON.stringify(version)?.slice(0, 40) ?? 'none'
  return {
    ok: false,
    reason: `unknown message version ${shown}: neither ClickMessage v1 nor EventMessage v2`,
  }
}

function firstError(validator: typeof clickValidator | typeof eventValidator, value: unknown): string {
  const first = validator.Errors(value)[0]
  return `${first?.instancePath || '(root)'} ${first?.message ?? 'is invalid'}`
}
