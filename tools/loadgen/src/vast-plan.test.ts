import { AD_EVENTS, type AdEvent } from '@adtrack/contracts'
import { readAdPlayhead, readErrorCode } from '@adtrack/service-runtime/vast-macros'
import { describe, expect, it } from 'vitest'
import { mulberry32 } from './random.js'
import {
  DEFAULT_MIX,
  ERROR_CODES,
  FUNNEL,
  fillMacros,
  formatPlayhead,
  type PlannedFire,
  planImpression,
} from './vast-plan.js'

const plans = (n: number, seed: number, mix = DEFAULT_MIX) => {
  const random = mulberry32(seed)
  return Array.from({ length: n }, () => planImpression(random, mix))
}

/** Share of impressions whose plan fires `event` (first firings only). */
const shareOf = (all: PlannedFire[][], event: AdEvent) =>
  all.filter((p) => p.some((s) => s.event === event && !s.repeat)).length / all.length

describe('planImpression', () => {
  const N = 200_000
  const all = plans(N, 7)

  it('is the same for the same seed, and differs for another', () => {
    expect(plans(50, 3)).toEqual(plans(50, 3))
    expect(plans(50, 3)).not.toEqual(plans(50, 4))
  })

  it('drops off as documented: every impression, then 95% start, 85/75/65% quartiles, 60% complete', () => {
    expect(shareOf(all, 'impression')).toBe(1)
    for (const { event, share } of FUNNEL) expect(shareOf(all, event)).toBeCloseTo(share, 2)
    // Binomial standard deviation at N = 200,000 is about 0.001: 0.005 is five of them.
    expect(Math.abs(shareOf(all, 'complete') - 0.6)).toBeLessThan(0.005)
  })

  it('mixes in errors, click-throughs, skips, pauses and mutes at their shares', () => {
    expect(Math.abs(shareOf(all, 'error') - DEFAULT_MIX.errorShare)).toBeLessThan(0.002)
    expect(Math.abs(shareOf(all, 'click') - DEFAULT_MIX.clickShare)).toBeLessThan(0.002)
    // Skips: half of those that start, do not complete and do not click (0.95 - 0.60, less the clicks).
    const stoppedEarly = all.filter(
      (p) =>
        p.some((s) => s.event === 'start') && !p.some((s) => s.event === 'complete' || s.event === 'click'),
    )
    const skipped = stoppedEarly.filter((p) => p.some((s) => s.event === 'skip')).length
    expect(Math.abs(skipped / stoppedEarly.length - DEFAULT_MIX.skipShare)).toBeLessThan(0.01)
    expect(Math.abs(shareOf(all, 'pause') - 0.95 * DEFAULT_MIX.pauseShare)).toBeLessThan(0.003)
    expect(Math.abs(shareOf(all, 'mute') - 0.95 * DEFAULT_MIX.muteShare)).toBeLessThan(0.003)
    expect(shareOf(all, 'resume')).toBeLessThan(shareOf(all, 'pause'))
    expect(shareOf(all, 'unmute')).toBeLessThan(shareOf(all, 'mute') * 0.55)
  })

  it('repeats a share of the requests, each right after the one it repeats', () => {
    const fires = all.flat()
    expect(Math.abs(fires.filter((s) => s.repeat).length / fires.length - 0.03)).toBeLessThan(0.002)
    for (const plan of all.slice(0, 20_000))
      plan.forEach((s, i) => {
        if (s.repeat) expect(plan[i - 1]).toEqual({ ...s, repeat: false })
      })
  })

  it('fires each impression in a player order: funnel in sequence, pairs in order, no contradictions', () => {
    const funnel = FUNNEL.map((f) => f.event as AdEvent)
    for (const plan of all.slice(0, 10_000)) {
      const firsts = plan.filter((s) => !s.repeat).map((s) => s.event)
      expect(firsts[0]).toBe('impression')
      // Each event at most once (a repeat aside).
      expect(new Set(firsts).size).toBe(firsts.length)
      const reached = firsts.filter((e) => funnel.includes(e))
      expect(reached).toEqual(funnel.slice(0, reached.length))
      if (firsts.includes('error')) expect(firsts).toEqual(['impression', 'error'])
      if (firsts.includes('skip')) {
        expect(firsts).not.toContain('complete')
        expect(firsts).not.toContain('click')
        expect(firsts.at(-1)).toBe('skip')
      }
      if (firsts.includes('click')) expect(firsts.at(-1)).toBe('click')
      if (firsts.includes('resume')) expect(firsts[firsts.indexOf('pause') + 1]).toBe('resume')
      if (firsts.includes('unmute')) expect(firsts[firsts.indexOf('mute') + 1]).toBe('unmute')
      for (const e of ['pause', 'mute', 'skip', 'click'] as AdEvent[])
        if (firsts.includes(e)) expect(firsts).toContain('start')
      for (const s of plan) expect(AD_EVENTS).toContain(s.event)
    }
  })

  it('gives errors a VAST code, or none (the macro left literal) for about a fifth of them', () => {
    const errors = all.flat().filter((s) => s.event === 'error' && !s.repeat)
    const literal = errors.filter((s) => s.errorCode === undefined).length / errors.length
    expect(literal).toBeGreaterThan(0.15)
    expect(literal).toBeLessThan(0.25)
    for (const s of errors) if (s.errorCode !== undefined) expect(ERROR_CODES).toContain(s.errorCode)
  })

  it('follows the mix given: no errors, clicks or repeats at 0, every start-reaching impression clicks at 0.95', () => {
    const none = plans(5000, 1, { ...DEFAULT_MIX, errorShare: 0, clickShare: 0, repeatShare: 0 })
    expect(shareOf(none, 'error')).toBe(0)
    expect(shareOf(none, 'click')).toBe(0)
    expect(none.flat().some((s) => s.repeat)).toBe(false)
    const clicking = plans(5000, 1, { ...DEFAULT_MIX, clickShare: 0.95 })
    expect(shareOf(clicking, 'click')).toBe(shareOf(clicking, 'start'))
  })
})

describe('fillMacros', () => {
  it('fills the macros a player knows, raw or percent-encoded, as the services read them back', () => {
    const url = fillMacros(
      '/track/1/error?t=x&cb=[CACHEBUSTING]&error_code=%5BERRORCODE%5D&ad_playhead=[ADPLAYHEAD]',
      { cacheBusting: '12345678', errorCode: 405, adPlayhead: 3723.5 },
    )
    expect(url).toBe('/track/1/error?t=x&cb=12345678&error_code=405&ad_playhead=01%3A02%3A03.500')
    const q = new URLSearchParams(url.split('?')[1])
    expect(readErrorCode(q.get('error_code'))).toBe(405)
    expect(readAdPlayhead(q.get('ad_playhead'))).toBe(3723.5)
  })

  it('leaves the macros it has no value for as they stand', () => {
    expect(
      fillMacros('/p?cb=[CACHEBUSTING]&e=[ERRORCODE]&c=[CONTENTPLAYHEAD]&a=%5bADPLAYHEAD%5d', {
        cacheBusting: '1',
      }),
    ).toBe('/p?cb=1&e=[ERRORCODE]&c=[CONTENTPLAYHEAD]&a=%5bADPLAYHEAD%5d')
  })

  it('formats playheads as VAST does', () => {
    expect(formatPlayhead(0)).toBe('00:00:00.000')
    expect(formatPlayhead(7.5)).toBe('00:00:07.500')
    expect(formatPlayhead(3599.9999)).toBe('01:00:00.000')
  })
})
