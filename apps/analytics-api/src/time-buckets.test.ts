import { describe, expect, it } from 'vitest'
import { noVideoFigures } from './testing/no-events.js'
import { bucketCount, bucketStarts, fillBuckets } from './time-buckets.js'

const at = (iso: string) => Date.parse(iso)

describe('time buckets', () => {
  it('aligns to UTC minute, hour and day boundaries', () => {
    expect(
      bucketStarts(at('2026-11-25T10:00:30Z'), at('2026-11-25T10:03:00Z'), 'minute').map((t) =>
        new Date(t).toISOString(),
      ),
    ).toEqual(['2026-11-25T10:00:00.000Z', '2026-11-25T10:01:00.000Z', '2026-11-25T10:02:00.000Z'])
    expect(bucketStarts(at('2026-11-25T10:59:00Z'), at('2026-11-25T12:00:00Z'), 'hour')).toHaveLength(2)
    expect(
      bucketStarts(at('2026-11-24T23:00:00Z'), at('2026-11-26T00:00:00Z'), 'day').map((t) =>
        new Date(t).toISOString(),
      ),
    ).toEqual(['2026-11-24T00:00:00.000Z', '2026-11-25T00:00:00.000Z'])
  })

  it('sums minutes into their buckets and fills empty ones with zeros', () => {
    const starts = bucketStarts(at('2026-11-25T10:00:00Z'), at('2026-11-25T13:00:00Z'), 'hour')
    const clicks = (valid: number, invalid: number) => ({ valid, invalid, events: {}, errors: {} })
    const out = fillBuckets(starts, 'hour', [
      [at('2026-11-25T10:05:00Z'), clicks(2, 1)],
      [at('2026-11-25T10:59:00Z'), clicks(3, 0)],
      [at('2026-11-25T12:00:00Z'), clicks(1, 0)],
      [at('2026-11-25T13:00:00Z'), clicks(9, 9)], // outside the range
    ])
    expect(
      out.map(({ start, click_count, invalid_click_count }) => ({ start, click_count, invalid_click_count })),
    ).toEqual([
      { start: '2026-11-25T10:00:00.000Z', click_count: 5, invalid_click_count: 1 },
      { start: '2026-11-25T11:00:00.000Z', click_count: 0, invalid_click_count: 0 },
      { start: '2026-11-25T12:00:00.000Z', click_count: 1, invalid_click_count: 0 },
    ])
  })

  it("sums each bucket's events and errors and rates them over the bucket's own impressions", () => {
    const starts = bucketStarts(at('2026-11-25T10:00:00Z'), at('2026-11-25T12:00:00Z'), 'hour')
    const out = fillBuckets(starts, 'hour', [
      [
        at('2026-11-25T10:01:00Z'),
        { valid: 1, invalid: 0, events: { impression: 3, complete: 1, error: 1 }, errors: { '405': 1 } },
      ],
      [
        at('2026-11-25T10:02:00Z'),
        {
          valid: 0,
          invalid: 0,
          events: { impression: 1, complete: 2, error: 2 },
          errors: { '405': 1, unknown: 1 },
        },
      ],
    ])
    expect(out[0]).toMatchObject({
      click_count: 1,
      impressions: 4,
      ctr: 0.25,
      completion_rate: 0.75,
      events: { start: 0, complete: 3, unmute: 0 },
      errors: { '405': 2, unknown: 1 },
    })
    expect(out[1]).toEqual({
      start: '2026-11-25T11:00:00.000Z',
      click_count: 0,
      invalid_click_count: 0,
      ...noVideoFigures(),
    })
  })

  it('counts the buckets of a range without building them, equal to what bucketStarts builds', () => {
    for (const [from, to, granularity] of [
      ['2026-11-25T10:00:30Z', '2026-11-25T10:03:00Z', 'minute'],
      ['2026-11-25T10:59:00Z', '2026-11-25T12:00:00Z', 'hour'],
      ['2026-11-24T23:00:00Z', '2026-11-26T00:00:00Z', 'day'],
      ['1969-12-31T23:58:30Z', '1970-01-01T00:01:00Z', 'minute'],
    ] as const) {
      expect(bucketCount(at(from), at(to), granularity)).toBe(
        bucketStarts(at(from), at(to), granularity).length,
      )
    }
    // Centuries by the minute: a count, where building them would fail (RangeError: Invalid array length).
    expect(bucketCount(at('0001-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z'), 'minute')).toBeGreaterThan(1e9)
  })

  it('rounds down before 1970 as after it', () => {
    expect(
      new Date(
        bucketStarts(at('1969-12-31T23:58:30Z'), at('1969-12-31T23:59:00Z'), 'minute')[0] ?? 0,
      ).toISOString(),
    ).toBe('1969-12-31T23:58:00.000Z')
  })
})
