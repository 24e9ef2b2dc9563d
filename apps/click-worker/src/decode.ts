import { ClickMessage } from '@adtrack/contracts'
import { Compile } from 'typebox/compile'

const validator = Compile(ClickMessage)

export type Decoded = { ok: true; click: ClickMessage } | { ok: false; reason: string }

/** Parses and validates one Kafka record value against the ClickMessage contract; never throws. */
export function decodeClick(value: Buffer | null): Decoded {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty record value' }
  let parsed: unknown
  try {
    parsed = JSON.parse(value.toString('utf8'))
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` }
  }
  if (validator.Check(parsed)) return { ok: true, click: parsed }
  const first = validator.Errors(parsed)[0]
  const where = first?.instancePath || '(root)'
  return { ok: false, reason: `does not match ClickMessage v1: ${where} ${first?.message ?? 'is invalid'}` }
}
