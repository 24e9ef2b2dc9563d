import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { ClickMessage, ClickRequest, parseDuration, redisKeys } from './index.js'

const click = Compile(ClickRequest)
const message = Compile(ClickMessage)

describe('ClickRequest', () => {
  it('accepts the old system body and an optional click id', () => {
    expect(click.Check({ ad_id: '1', playback_time: 30 })).toBe(true)
    expect(
      click.Check({ ad_id: 'ad-42', playback_time: 0, click_id: 'c5b0e6a2-4a7e-4b7a-9f51-2d3c1a1e7f00' }),
    ).toBe(true)
    expect(click.Check({ ad_id: '1', playback_time: 3600 })).toBe(true)
  })

  it.each([
    ['missing ad_id', { playback_time: 30 }],
    ['missing playback_time', { ad_id: '1' }],
    ['empty ad_id', { ad_id: '', playback_time: 30 }],
    ['ad_id over 64 chars', { ad_id: 'a'.repeat(65), playback_time: 30 }],
    ['numeric ad_id', { ad_id: 1, playback_time: 30 }],
    ['string playback_time', { ad_id: '1', playback_time: '30' }],
    ['fractional playback_time', { ad_id: '1', playback_time: 1.5 }],
    ['negative playback_time', { ad_id: '1', playback_time: -1 }],
    ['playback_time over an hour', { ad_id: '1', playback_time: 3601 }],
    ['click_id with spaces', { ad_id: '1', playback_time: 1, click_id: 'not a valid id' }],
    ['click_id too short', { ad_id: '1', playback_time: 1, click_id: 'abc' }],
  ])('refuses %s', (_name, body) => {
    expect(click.Check(body)).toBe(false)
  })
})

describe('ClickMessage', () => {
  const valid = {
    v: 1,
    click_id: 'c5b0e6a2-4a7e-4b7a-9f51-2d3c1a1e7f00',
    ad_id: '1',
    playback_time: 30,
    received_at: '2026-11-25T12:00:00.000Z',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0',
  }
  it('accepts a version 1 message', () => {
    expect(message.Check(valid)).toBe(true)
  })
  it('refuses another version or a missing field', () => {
    expect(message.Check({ ...valid, v: 2 })).toBe(false)
    const { received_at: _, ...missing } = valid
    expect(message.Check(missing)).toBe(false)
  })
})

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })
  it.each(['10', 's', '10x', '-1s', ''])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/)
  })
})

describe('redisKeys', () => {
  it('prefixes every key and separates ads', () => {
    const keys = redisKeys('t1:')
    expect(keys.clickCount('7')).toBe('t1:ad:7:clicks')
    expect(keys.viewers('7')).toBe('t1:ad:7:viewers')
    expect(keys.appliedOffset('ad-clicks', 3)).toBe('t1:applied:ad-clicks:3')
    expect(keys.clickCount('7')).not.toBe(keys.clickCount('77'))
  })
})
