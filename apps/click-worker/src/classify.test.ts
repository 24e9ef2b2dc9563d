import type { ClickMessage } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { BotVerdicts, classifyClicks, hourKey, type ViewerHistory } from './classify.js'

const BROWSER =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
const T0 = Date.parse('2026-11-25T10:00:00.000Z')
let n = 0
const click = (adId: string, atMs: number, user_agent = BROWSER): ClickMessage => ({
  v: 1,
  click_id: `click-${++n}-xxxxxx`,
  ad_id: adId,
  playback_time: 10,
  received_at: new Date(atMs).toISOString(),
  ip: '198.51.100.1',
  user_agent,
})
const empty = (activeAds = ['a', 'b']): ViewerHistory => ({
  perHour: new Map(),
  lastClick: new Map(),
  activeAds: new Set(activeAds),
})
const rules = { repeatWindowMs: 30_000, hourlyBudget: 3 }
const reasons = (clicks: ClickMessage[], history = empty(), viewer = 'v1') =>
  classifyClicks(
    clicks.map((c) => ({ click: c, viewerId: viewer })),
    history,
    rules,
  ).map((c) => c.reason)

describe('classifyClicks', () => {
  it('counts ordinary clicks on active ads', () => {
    expect(reasons([click('a', T0), click('b', T0 + 1000)])).toEqual([null, null])
  })

  it('marks known bots and crawlers by user agent', () => {
    const bot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
    expect(reasons([click('a', T0, bot), click('a', T0 + 60_000, 'curl/8.5.0')])).toEqual(['bot', 'bot'])
  })

  it('marks clicks on paused or unknown ads', () => {
    expect(reasons([click('paused', T0)], empty(['a']))).toEqual(['inactive_ad'])
  })

  it('marks a repeat on the same ad within the window, not on another ad or after it', () => {
    const clicks = [click('a', T0), click('a', T0 + 29_999), click('b', T0 + 31_000), click('a', T0 + 60_000)]
    const out = classifyClicks(
      clicks.map((c) => ({ click: c, viewerId: 'v1' })),
      empty(),
      { ...rules, hourlyBudget: 100 },
    )
    expect(out.map((c) => c.reason)).toEqual([null, 'repeat', null, null])
  })

  it('lets bots through when bot filtering is off', () => {
    const out = classifyClicks([{ click: click('a', T0, 'curl/8.5.0'), viewerId: 'v9' }], empty(), {
      ...rules,
      filterBots: false,
    })
    expect(out[0]?.reason).toBeNull()
  })

  it('judges clicks in receive order whatever order the batch has', () => {
    expect(reasons([click('a', T0 + 10_000), click('a', T0)])).toEqual(['repeat', null])
  })

  it('marks clicks beyond the hourly budget, across ads, and starts afresh next hour', () => {
    const at = (m: number) => T0 + m * 60_000
    expect(
      reasons([
        click('a', at(0)),
        click('b', at(1)),
        click('a', at(2)),
        click('b', at(3)),
        click('a', at(61)),
      ]),
    ).toEqual([null, null, null, 'over_budget', null])
  })

  it('takes what Postgres already holds into account', () => {
    const history = empty()
    history.lastClick.set('v1|a', T0 - 5000)
    history.perHour.set(hourKey('v1', T0), 3)
    expect(reasons([click('a', T0)], history)).toEqual(['repeat'])
    expect(reasons([click('b', T0)], history)).toEqual(['over_budget'])
  })

  it('keeps viewers apart', () => {
    const out = classifyClicks(
      [
        { click: click('a', T0), viewerId: 'v1' },
        { click: click('a', T0 + 1000), viewerId: 'v2' },
      ],
      empty(),
      rules,
    )
    expect(out.map((c) => c.reason)).toEqual([null, null])
  })
})

describe('BotVerdicts', () => {
  const bot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'

  it('gives the same verdict as isbot, from memory the second time', () => {
    const verdicts = new BotVerdicts()
    expect([verdicts.isBot(bot), verdicts.isBot(BROWSER), verdicts.isBot(bot)]).toEqual([true, false, true])
    expect(verdicts.size).toBe(2)
  })

  it('stays within its capacity and still answers for forgotten agents', () => {
    const verdicts = new BotVerdicts(4)
    for (let i = 0; i < 10; i++) verdicts.isBot(`${BROWSER} build/${i}`)
    expect(verdicts.size).toBeLessThanOrEqual(4)
    // Still right after eviction, for a forgotten agent and a kept one.
    expect(verdicts.isBot(`${BROWSER} build/0`)).toBe(false)
    expect(verdicts.isBot(bot)).toBe(true)
  })
})
