import { describe, expect, it } from 'vitest'
import { readAdPlayhead, readContentPlayhead, readErrorCode, VAST_MACROS } from './vast-macros.js'

describe('VAST macros', () => {
  it('spells the literal macros as tags carry them', () => {
    expect(Object.values(VAST_MACROS)).toEqual([
      '[CACHEBUSTING]',
      '[ERRORCODE]',
      '[ADPLAYHEAD]',
      '[CONTENTPLAYHEAD]',
    ])
  })

  it('reads a substituted error code, and nothing from a literal or invalid one', () => {
    expect(readErrorCode('303')).toBe(303)
    expect(readErrorCode('100')).toBe(100)
    expect(readErrorCode('999')).toBe(999)
    for (const value of [
      VAST_MACROS.errorCode,
      '%5BERRORCODE%5D',
      '%255BERRORCODE%255D',
      '99',
      '1000',
      '0303',
      '-303',
      '303.0',
      '3e2',
      'abc',
      '',
      '%E0%A4%A',
      undefined,
      ['303', '405'],
      303,
    ]) {
      expect(readErrorCode(value)).toBeUndefined()
    }
  })

  it('reads playheads in VAST time as seconds, with or without milliseconds', () => {
    expect(readAdPlayhead('00:00:15.250')).toBe(15.25)
    expect(readAdPlayhead('00:00:15')).toBe(15)
    expect(readContentPlayhead('01:02:03.5')).toBe(3723.5)
    expect(readContentPlayhead('00%3A00%3A07.000')).toBe(7)
  })

  it('reads nothing from a literal, encoded or malformed playhead', () => {
    for (const value of [
      VAST_MACROS.adPlayhead,
      VAST_MACROS.contentPlayhead,
      '%5BADPLAYHEAD%5D',
      '%5bCONTENTPLAYHEAD%5d',
      '00:60:00',
      '00:00:60',
      '15',
      '15.5',
      '-00:00:01',
      '00:00:01.1234',
      `00:00:01${'0'.repeat(100)}`,
      '00:00:01\u0000',
      '٠٠:٠٠:٠١',
      null,
    ]) {
      expect(readAdPlayhead(value)).toBeUndefined()
      expect(readContentPlayhead(value)).toBeUndefined()
    }
  })
})
