import { describe, expect, it } from 'vitest'
import { parseDurationMs, parseLoadArgs, UsageError } from './args.js'
import { Traffic } from './traffic.js'

describe('parseLoadArgs', () => {
  it('has bounded defaults: 10 s, flat out, single clicks, 32 connections, the npm start gateway', () => {
    expect(parseLoadArgs([])).toMatchObject({
      url: 'http://127.0.0.1:8080',
      rate: 0,
      durationMs: 10_000,
      count: undefined,
      connections: 32,
      mode: 'single',
      batchSize: 100,
      ads: undefined,
      progress: true,
      json: false,
    })
  })

  it('reads every option', () => {
    const o = parseLoadArgs([
      '--url=http://127.0.0.1:8081/',
      '--rate',
      '5000',
      '--duration',
      '1m30s',
      '--count',
      '100000',
      '--connections',
      '64',
      '--mode',
      'batch',
      '--batch-size',
      '250',
      '--ads',
      'a, b,c',
      '--zipf',
      '0',
      '--viewers',
      '10',
      '--bot-share',
      '0.1',
      '--repeat-share',
      '0',
      '--retry-share',
      '0.5',
      '--record',
      '/tmp/acks.txt',
      '--seed',
      '9',
      '--quiet',
      '--json',
    ])
    expect(o).toEqual({
      url: 'http://127.0.0.1:8081',
      rate: 5000,
      durationMs: 90_000,
      count: 100_000,
      connections: 64,
      mode: 'batch',
      batchSize: 250,
      ads: ['a', 'b', 'c'],
      zipf: 0,
      viewers: 10,
      botShare: 0.1,
      repeatShare: 0,
      retryShare: 0.5,
      errorShare: 0.02,
      clickShare: 0.015,
      vastFetch: false,
      vastUrl: undefined,
      trackingKeys: '',
      record: '/tmp/acks.txt',
      seed: 9,
      progress: false,
      json: true,
    })
  })

  it('reads the vast options, with the vast defaults for bots and repeated pixels', () => {
    expect(parseLoadArgs(['--mode', 'vast'])).toMatchObject({
      mode: 'vast',
      botShare: 0.02,
      retryShare: 0.03,
      errorShare: 0.02,
      clickShare: 0.015,
      vastFetch: false,
      trackingKeys: '',
    })
    expect(
      parseLoadArgs(
        [
          ...[
            '--mode',
            'vast',
            '--vast-fetch',
            '--vast-url',
            'http://127.0.0.1:8082/',
            '--error-share',
            '0.05',
          ],
          ...['--click-share', '0.5', '--retry-share', '0'],
        ],
        { TRACKING_TOKEN_KEYS: ' k1:0123456789abcdef0123456789abcdef ' },
      ),
    ).toMatchObject({
      vastFetch: true,
      vastUrl: 'http://127.0.0.1:8082',
      errorShare: 0.05,
      clickShare: 0.5,
      retryShare: 0,
      trackingKeys: 'k1:0123456789abcdef0123456789abcdef',
    })
  })

  it('refuses TRACKING_TOKEN_KEYS the services would refuse, naming the variable and not the secret', () => {
    const weak = { TRACKING_TOKEN_KEYS: 'k1:short-secret' }
    expect(() => parseLoadArgs(['--mode', 'vast'], weak)).toThrow(/TRACKING_TOKEN_KEYS.*shorter/)
    expect(() => parseLoadArgs(['--mode', 'vast'], weak)).not.toThrow(/short-secret/)
    // Tags fetched from the services need no keys here; clicks never do.
    expect(parseLoadArgs(['--mode', 'vast', '--vast-fetch'], weak)?.vastFetch).toBe(true)
    expect(parseLoadArgs([], weak)?.mode).toBe('single')
  })

  it('with only --count, runs until that many clicks, without a time bound', () => {
    expect(parseLoadArgs(['--count', '10'])).toMatchObject({ count: 10, durationMs: undefined })
  })

  it('returns undefined for --help', () => {
    expect(parseLoadArgs(['--help'])).toBeUndefined()
    expect(parseLoadArgs(['-h'])).toBeUndefined()
  })

  it.each([
    [['--rate', '-1'], /--rate/],
    [['--rate', 'fast'], /--rate/],
    [['--connections', '0'], /--connections/],
    [['--connections', '1.5'], /whole number/],
    [['--count', '0'], /--count/],
    [['--mode', 'stream'], /--mode/],
    [['--duration', '10x'], /duration/],
    [['--duration', '0s'], /positive/],
    [['--bot-share', '2'], /--bot-share/],
    [['--url', 'not a url'], /--url/],
    [['--url', 'ftp://x'], /http/],
    [['--ads', ' , '], /--ads/],
    [['--nope'], /nope/],
    [['--mode', 'vast', '--batch-size', '5'], /--batch-size is for clicks/],
    [['--mode', 'vast', '--repeat-share', '0.1'], /--repeat-share is for clicks/],
    [['--mode', 'vast', '--viewers', '5'], /--viewers is for clicks/],
    [['--vast-fetch'], /--vast-fetch is for --mode vast/],
    [['--click-share', '0.1'], /--click-share is for --mode vast/],
    [['--mode', 'vast', '--vast-url', 'http://x'], /give --vast-fetch/],
    [['--mode', 'vast', '--error-share', '0.1'], /--error-share must be a number from 0 to 0.05/],
    [['--mode', 'vast', '--vast-fetch', '--vast-url', 'nope'], /--vast-url is not a URL/],
    [['extra'], /unexpected/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLoadArgs(argv)).toThrow(UsageError)
    expect(() => parseLoadArgs(argv)).toThrow(message)
  })
})

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['3', 3000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms)
  })
})

describe('Traffic', () => {
  const opts = { zipf: 1.1, viewers: 1000, botShare: 0, repeatShare: 0, seed: 3 }

  it('makes valid clicks with unique click ids, the popular ads clicked most', () => {
    const t = new Traffic(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'], opts)
    const ids = new Set<string>()
    const perAd = new Map<string, number>()
    for (let i = 0; i < 20_000; i++) {
      const c = t.click()
      expect(c.click_id).toMatch(/^[A-Za-z0-9_-]{8,64}$/)
      expect(c.playback_time).toBeGreaterThanOrEqual(0)
      expect(c.playback_time).toBeLessThanOrEqual(3600)
      expect(Number.isInteger(c.playback_time)).toBe(true)
      ids.add(c.click_id)
      perAd.set(c.ad_id, (perAd.get(c.ad_id) ?? 0) + 1)
    }
    expect(ids.size).toBe(20_000)
    expect(perAd.get('1')).toBeGreaterThan((perAd.get('10') ?? 0) * 5)
  })

  it('repeats the last viewer and ad with a new click id at the repeat share, and sends bot user agents at the bot share', () => {
    const t = new Traffic(['a', 'b'], { ...opts, repeatShare: 1, botShare: 1 })
    const first = t.click()
    const second = t.click()
    expect(second).toMatchObject({ ad_id: first.ad_id, viewer_id: first.viewer_id })
    expect(second.click_id).not.toBe(first.click_id)
    expect(t.userAgent()).toMatch(/bot|python/i)
  })
})
