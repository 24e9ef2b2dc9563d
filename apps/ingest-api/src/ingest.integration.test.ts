import { insertAds, readTopic, topicRecordCount, uniqueName, waitFor } from '@adtrack/test-support'
import { describe, expect, it } from 'vitest'
import { ingestApp } from './testing/ingest-app.js'

const ingest = ingestApp('ingest', {
  env: { TRUSTED_PROXIES: '10.0.0.1' },
  seed: (sql) => insertAds(sql, [{ id: 'live' }, { id: 'paused', status: 'paused' }]),
})
const { topic } = ingest

describe('POST /ads/click', () => {
  it('answers 202 with a click id once Kafka holds the click, keyed by ad, with receive time, IP and user agent', async () => {
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      headers: { 'content-type': 'application/json', 'user-agent': 'TestPlayer/1.0' },
      payload: { ad_id: 'live', playback_time: 30 },
    })
    expect(res.statusCode).toBe(202)
    const body = res.json()
    expect(body.status).toBe('Click recorded')
    expect(body.click_id).toMatch(/^[0-9a-f-]{36}$/)
    const records = await readTopic(topic, 1)
    const record = records.find((r) => r.value.click_id === body.click_id)
    expect(record?.key).toBe('live')
    expect(record?.value).toMatchObject({
      v: 1,
      ad_id: 'live',
      playback_time: 30,
      ip: '127.0.0.1',
      user_agent: 'TestPlayer/1.0',
    })
    expect(Date.now() - Date.parse(String(record?.value.received_at))).toBeLessThan(60_000)
  })

  it.each([
    ['application/json', 'application/json'],
    ['text/plain (navigator.sendBeacon)', 'text/plain;charset=UTF-8'],
    ['the form type curl -d sends', 'application/x-www-form-urlencoded'],
  ])('parses a JSON body sent as %s', async (_name, contentType) => {
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      headers: { 'content-type': contentType },
      payload: '{"ad_id": "live", "playback_time": 30}',
    })
    expect(res.statusCode).toBe(202)
  })

  it('keeps a client click id, and takes one from Idempotency-Key', async () => {
    const own = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      payload: { ad_id: 'live', playback_time: 1, click_id: 'client-chosen-id-1' },
    })
    expect(own.json().click_id).toBe('client-chosen-id-1')
    const header = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      headers: { 'idempotency-key': 'header-chosen-id-1' },
      payload: { ad_id: 'live', playback_time: 1 },
    })
    expect(header.json().click_id).toBe('header-chosen-id-1')
  })

  it('passes the player’s viewer_id on to Kafka, and leaves it out when absent', async () => {
    const withViewer = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      payload: { ad_id: 'live', playback_time: 3, click_id: 'has-viewer-id-1', viewer_id: 'device-42' },
    })
    expect(withViewer.statusCode).toBe(202)
    const records = await readTopic(topic, await topicRecordCount(topic))
    const record = (id: string) => records.find((r) => r.value.click_id === id)?.value
    expect(record('has-viewer-id-1')?.viewer_id).toBe('device-42')
    expect(record('client-chosen-id-1')).not.toHaveProperty('viewer_id')
  })

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const trusted = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      remoteAddress: '10.0.0.1',
      headers: { 'x-forwarded-for': '198.51.100.9', 'idempotency-key': 'via-trusted-proxy' },
      payload: { ad_id: 'live', playback_time: 2 },
    })
    const spoofed = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      remoteAddress: '192.0.2.50',
      headers: { 'x-forwarded-for': '198.51.100.9', 'idempotency-key': 'via-untrusted-peer' },
      payload: { ad_id: 'live', playback_time: 2 },
    })
    expect(trusted.statusCode).toBe(202)
    expect(spoofed.statusCode).toBe(202)
    const records = await readTopic(topic, await topicRecordCount(topic))
    const ipOf = (id: string) => records.find((r) => r.value.click_id === id)?.value.ip
    expect(ipOf('via-trusted-proxy')).toBe('198.51.100.9')
    expect(ipOf('via-untrusted-peer')).toBe('192.0.2.50')
  })

  it('makes a newly created ad clickable within the refresh interval, without a restart', async () => {
    const id = uniqueName('new')
    const before = await ingest.app.inject({
      method: 'POST',
      url: '/ads/click',
      payload: { ad_id: id, playback_time: 1 },
    })
    expect(before.statusCode).toBe(404)
    await insertAds(ingest.db.sql, [{ id }])
    const after = await waitFor(
      async () => {
        const res = await ingest.app.inject({
          method: 'POST',
          url: '/ads/click',
          payload: { ad_id: id, playback_time: 1 },
        })
        return res.statusCode === 202 ? res : undefined
      },
      { timeoutMs: 5000, what: 'the new ad to be clickable' },
    )
    expect(after.statusCode).toBe(202)
  })

  describe('refuses bad input with a 4xx JSON error and sends nothing to Kafka', () => {
    const cases: [string, { payload?: string; headers?: Record<string, string> }, number, RegExp][] = [
      ['malformed JSON', { payload: '{"ad_id": "live", ' }, 400, /JSON/i],
      ['an empty body', { payload: '' }, 400, /body/i],
      ['a JSON array', { payload: '[1,2]' }, 400, /object/],
      ['a missing ad_id', { payload: '{"playback_time": 30}' }, 400, /ad_id/],
      ['a missing playback_time', { payload: '{"ad_id": "live"}' }, 400, /playback_time/],
      ['a numeric ad_id', { payload: '{"ad_id": 1, "playback_time": 30}' }, 400, /ad_id/],
      [
        'a string playback_time',
        { payload: '{"ad_id": "live", "playback_time": "30"}' },
        400,
        /playback_time/,
      ],
      [
        'a negative playback_time',
        { payload: '{"ad_id": "live", "playback_time": -1}' },
        400,
        /playback_time/,
      ],
      [
        'playback_time over 3600',
        { payload: '{"ad_id": "live", "playback_time": 3601}' },
        400,
        /playback_time/,
      ],
      [
        'a fractional playback_time',
        { payload: '{"ad_id": "live", "playback_time": 2.5}' },
        400,
        /playback_time/,
      ],
      [
        'an ad_id over 64 characters',
        { payload: JSON.stringify({ ad_id: 'x'.repeat(65), playback_time: 1 }) },
        400,
        /ad_id/,
      ],
      [
        'a malformed click_id',
        { payload: '{"ad_id": "live", "playback_time": 1, "click_id": "no spaces"}' },
        400,
        /click_id/,
      ],
      [
        'a malformed Idempotency-Key',
        { payload: '{"ad_id": "live", "playback_time": 1}', headers: { 'idempotency-key': 'x' } },
        400,
        /Idempotency-Key/,
      ],
      ['an unknown ad', { payload: '{"ad_id": "no-such-ad", "playback_time": 1}' }, 404, /no-such-ad/],
      ['a paused ad', { payload: '{"ad_id": "paused", "playback_time": 1}' }, 404, /paused/],
      [
        'an oversized body',
        { payload: JSON.stringify({ ad_id: 'live', playback_time: 1, pad: 'x'.repeat(10_000) }) },
        413,
        /too large/i,
      ],
    ]
    it.each(cases)('%s', async (_name, req, status, message) => {
      const before = await topicRecordCount(topic)
      const res = await ingest.app.inject({
        method: 'POST',
        url: '/ads/click',
        headers: { 'content-type': 'application/json', ...req.headers },
        payload: req.payload,
      })
      expect(res.statusCode).toBe(status)
      expect(res.headers['content-type']).toMatch(/application\/json/)
      const body = res.json()
      expect(body.statusCode).toBe(status)
      expect(body.error).toEqual(expect.any(String))
      expect(body.message).toMatch(message)
      // Give a wrongly accepted click time to reach the broker before checking that none did.
      await new Promise((r) => setTimeout(r, 50))
      expect(await topicRecordCount(topic)).toBe(before)
    })
  })
})
