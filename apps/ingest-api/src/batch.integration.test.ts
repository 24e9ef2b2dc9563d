import { insertAds, readTopic, topicRecordCount } from '@adtrack/test-support'
import { describe, expect, it } from 'vitest'
import { ingestApp } from './testing/ingest-app.js'

const BATCH_MAX_CLICKS = 8
const ingest = ingestApp('ingest-batch', {
  env: { BATCH_MAX_CLICKS: String(BATCH_MAX_CLICKS) },
  seed: (sql) => insertAds(sql, [{ id: 'live' }, { id: 'other' }, { id: 'paused', status: 'paused' }]),
})
const { topic } = ingest

const post = (payload: string, contentType = 'application/json') =>
  ingest.app.inject({
    method: 'POST',
    url: '/ads/clicks',
    headers: { 'content-type': contentType, 'user-agent': 'BatchPlayer/2.0' },
    payload,
  })

describe('POST /ads/clicks', () => {
  it('answers each item in order, accepted or with its own error, and puts exactly the accepted ones on the topic as sent', async () => {
    const before = await topicRecordCount(topic)
    const items = [
      { ad_id: 'live', playback_time: 10, click_id: 'batch-mixed-0001', viewer_id: 'device-1' },
      { ad_id: 'live', playback_time: 3601 },
      { ad_id: 'other', playback_time: 0 },
      { ad_id: 'paused', playback_time: 5 },
      { ad_id: 'no-such-ad', playback_time: 5 },
      'not a click',
      { ad_id: 'live', playback_time: 1, viewer_id: '' },
      { ad_id: 'other', playback_time: 42, click_id: 'batch-mixed-0007' },
    ]
    const res = await post(JSON.stringify(items))
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.accepted).toBe(3)
    expect(body.rejected).toBe(5)
    expect(body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'rejected',
      'accepted',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'accepted',
    ])
    expect(body.results[0].click_id).toBe('batch-mixed-0001')
    expect(body.results[2].click_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(body.results[7].click_id).toBe('batch-mixed-0007')
    expect(body.results[1]).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
    expect(body.results[1].message).toMatch(/body\/1\/playback_time/)
    expect(body.results[3]).toMatchObject({ statusCode: 404, code: 'AD_NOT_FOUND' })
    expect(body.results[4]).toMatchObject({ statusCode: 404, code: 'AD_NOT_FOUND' })
    expect(body.results[5]).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
    expect(body.results[6]).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
    expect(body.results[6].message).toMatch(/body\/6\/viewer_id/)

    const records = await readTopic(topic, before + 3)
    expect(records).toHaveLength(before + 3)
    const byId = (id: string) => records.find((r) => r.value.click_id === id)
    expect(byId('batch-mixed-0001')?.key).toBe('live')
    expect(byId('batch-mixed-0001')?.value).toMatchObject({
      v: 1,
      ad_id: 'live',
      playback_time: 10,
      viewer_id: 'device-1',
      ip: '127.0.0.1',
      user_agent: 'BatchPlayer/2.0',
    })
    expect(byId(body.results[2].click_id)?.value).toMatchObject({ ad_id: 'other', playback_time: 0 })
    expect(byId(body.results[2].click_id)?.value).not.toHaveProperty('viewer_id')
    expect(byId('batch-mixed-0007')?.key).toBe('other')
    expect(byId('batch-mixed-0007')?.value).toMatchObject({ ad_id: 'other', playback_time: 42 })
  })

  it('takes NDJSON, one click per line, a line that is not JSON failing on its own', async () => {
    const before = await topicRecordCount(topic)
    const ndjson = [
      '{"ad_id":"live","playback_time":7,"click_id":"batch-ndjson-0001"}',
      '{"ad_id":"live",',
      '',
      '{"ad_id":"other","playback_time":8,"click_id":"batch-ndjson-0002"}\r',
    ].join('\n')
    const res = await post(ndjson, 'application/x-ndjson')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ accepted: 2, rejected: 1 })
    expect(body.results[0]).toEqual({ status: 'accepted', click_id: 'batch-ndjson-0001' })
    expect(body.results[1]).toMatchObject({ status: 'rejected', statusCode: 400, code: 'MALFORMED_JSON' })
    expect(body.results[2]).toEqual({ status: 'accepted', click_id: 'batch-ndjson-0002' })
    const records = await readTopic(topic, before + 2)
    expect(records.find((r) => r.value.click_id === 'batch-ndjson-0002')?.value).toMatchObject({
      ad_id: 'other',
      playback_time: 8,
    })
  })

  it('drops an unknown field of an item, as POST /ads/click does, and sends the click without it', async () => {
    const before = await topicRecordCount(topic)
    const res = await post(
      JSON.stringify([{ ad_id: 'live', playback_time: 4, click_id: 'batch-extra-0001', campaign: 'x' }]),
    )
    expect(res.json().results[0]).toEqual({ status: 'accepted', click_id: 'batch-extra-0001' })
    const records = await readTopic(topic, before + 1)
    const value = records.find((r) => r.value.click_id === 'batch-extra-0001')?.value
    expect(value).toMatchObject({ ad_id: 'live', playback_time: 4 })
    expect(value).not.toHaveProperty('campaign')
  })

  it('keeps a retried click_id as sent, so that the worker counts it once', async () => {
    const items = JSON.stringify([{ ad_id: 'live', playback_time: 1, click_id: 'batch-retry-00001' }])
    const first = await post(items)
    const retry = await post(items)
    expect(first.json().results[0].click_id).toBe('batch-retry-00001')
    expect(retry.json().results[0].click_id).toBe('batch-retry-00001')
  })

  describe('refuses the whole request, sending nothing to Kafka', () => {
    const cases: [string, string, number, string][] = [
      ['malformed JSON', '[{"ad_id": "live"', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ['an empty array', '[]', 400, 'VALIDATION_FAILED'],
      ['a single object, not an array', '{"ad_id":"live","playback_time":1}', 400, 'VALIDATION_FAILED'],
      [
        `more than BATCH_MAX_CLICKS (${BATCH_MAX_CLICKS}) clicks`,
        JSON.stringify(
          Array.from({ length: BATCH_MAX_CLICKS + 1 }, () => ({ ad_id: 'live', playback_time: 1 })),
        ),
        413,
        'BATCH_TOO_LARGE',
      ],
      [
        'a body over 1 KiB per allowed click',
        JSON.stringify([{ ad_id: 'live', playback_time: 1, pad: 'x'.repeat(BATCH_MAX_CLICKS * 1024) }]),
        413,
        'FST_ERR_CTP_BODY_TOO_LARGE',
      ],
    ]
    it.each(cases)('%s', async (_name, payload, status, code) => {
      const before = await topicRecordCount(topic)
      const res = await post(payload)
      expect(res.statusCode).toBe(status)
      expect(res.json()).toMatchObject({ statusCode: status, code })
      await new Promise((r) => setTimeout(r, 50))
      expect(await topicRecordCount(topic)).toBe(before)
    })
  })
})
