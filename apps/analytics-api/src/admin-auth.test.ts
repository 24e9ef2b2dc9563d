import { AnalyticsConfig } from '@adtrack/contracts'
import { ConfigError, loadConfig } from '@adtrack/service-runtime'
import { describe, expect, it } from 'vitest'
import { AdminKeys } from './admin-auth.js'

describe('AdminKeys', () => {
  const keys = AdminKeys.parse(' first-admin-key-0001 ,second-admin-key-0002,')

  it('reads comma-separated keys, ignoring spaces and empty entries', () => {
    expect(keys.enabled).toBe(true)
    expect(keys.fingerprints).toHaveLength(2)
    expect(keys.match('first-admin-key-0001')).toBe(0)
    expect(keys.match('second-admin-key-0002')).toBe(1)
  })

  it('matches exact keys only, whatever the length of the guess', () => {
    for (const guess of ['', 'f', 'first-admin-key-000', 'first-admin-key-00011', 'FIRST-ADMIN-KEY-0001']) {
      expect(keys.match(guess)).toBe(-1)
    }
  })

  it('is disabled with no keys', () => {
    expect(AdminKeys.parse('').enabled).toBe(false)
    expect(AdminKeys.parse(' , ').enabled).toBe(false)
    expect(AdminKeys.parse('').match('')).toBe(-1)
  })

  it('names a key by a fingerprint that does not contain it', () => {
    expect(keys.fingerprints[0]).toMatch(/^[0-9a-f]{12}$/)
    expect(keys.fingerprints[0]).not.toBe(keys.fingerprints[1])
  })
})

describe('ADMIN_API_KEYS', () => {
  const load = (value: string) => loadConfig(AnalyticsConfig, { ADMIN_API_KEYS: value })

  it('defaults to empty (admin endpoints disabled) and accepts one or several keys', () => {
    expect(loadConfig(AnalyticsConfig, {}).ADMIN_API_KEYS).toBe('')
    expect(load('k3y_with.all~chars+/-0==').ADMIN_API_KEYS).toBe('k3y_with.all~chars+/-0==')
    expect(load('first-admin-key-0001, second-admin-key-0002').ADMIN_API_KEYS).toContain('second')
  })

  it.each([
    ['a key under 16 characters', 'too-short'],
    ['a key with a space inside', 'first admin key 0001'],
    ['a key with a character a Bearer token cannot carry', 'first-admin-key-0001!'],
    ['an empty entry between keys', 'first-admin-key-0001,,second-admin-key-0002'],
  ])('refuses %s, naming the variable', (_name, value) => {
    expect(() => load(value)).toThrow(ConfigError)
    expect(() => load(value)).toThrow(/ADMIN_API_KEYS/)
  })
})
