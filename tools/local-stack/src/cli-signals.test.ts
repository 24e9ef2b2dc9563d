import { describe, expect, it } from 'vitest'
import { SAME_SIGNAL_WINDOW_MS, signalMeaning } from './cli-signals.js'

describe('signalMeaning', () => {
  it('treats the first signal as a request to stop cleanly', () => {
    expect(signalMeaning(undefined, 1_000)).toBe('stop')
  })

  it('ignores the same Ctrl-C arriving again, forwarded by the bootstrap script', () => {
    expect(signalMeaning(1_000, 1_005)).toBe('duplicate')
    expect(signalMeaning(1_000, 1_000 + SAME_SIGNAL_WINDOW_MS - 1)).toBe('duplicate')
  })

  it('forces on a deliberate second Ctrl-C', () => {
    expect(signalMeaning(1_000, 1_000 + SAME_SIGNAL_WINDOW_MS)).toBe('force')
  })
})
