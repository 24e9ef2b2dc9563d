import { describe, expect, it } from 'vitest'
import { requestLatency, SendSchedule } from './schedule.js'

describe('SendSchedule at a target rate', () => {
  it('makes request k due at start + k / rate, the first at once', () => {
    const s = new SendSchedule(100, 1000) // one every 10 ms from t = 1000
    expect(s.due(999)).toBe(0)
    expect(s.due(1000)).toBe(1)
    expect(s.due(1009.9)).toBe(1)
    expect(s.due(1010)).toBe(2)
    expect(s.due(1055)).toBe(6)
  })

  it('hands out intended times on the schedule, however late the slots are taken', () => {
    const s = new SendSchedule(100, 1000)
    // Every connection was busy until t = 1055: the six due slots start late, in a burst.
    expect(Array.from({ length: 6 }, () => s.take(1055))).toEqual([1000, 1010, 1020, 1030, 1040, 1050])
    expect(s.due(1055)).toBe(0)
    expect(s.sent).toBe(6)
    expect(s.msUntilNext(1055)).toBe(5)
    expect(s.msUntilNext(1070)).toBe(0)
  })

  it('counts the slots due before the end that were never taken', () => {
    const s = new SendSchedule(10, 0) // every 100 ms: 10 slots before t = 1000 (0, 100, ..., 900)
    for (let i = 0; i < 7; i++) s.take(500)
    expect(s.missedBy(1000)).toBe(3)
    expect(s.missedBy(950)).toBe(3)
    expect(s.missedBy(901)).toBe(3)
    expect(s.missedBy(900)).toBe(2)
    for (let i = 0; i < 5; i++) s.take(1000)
    expect(s.missedBy(1000)).toBe(0)
  })
})

describe('SendSchedule flat out', () => {
  it('always has a request due, intended when it is sent, and never misses one', () => {
    const s = new SendSchedule(0, 0)
    expect(s.paced).toBe(false)
    expect(s.due(123)).toBe(Number.POSITIVE_INFINITY)
    expect(s.take(123)).toBe(123)
    expect(s.take(456)).toBe(456)
    expect(s.msUntilNext(456)).toBe(Number.POSITIVE_INFINITY)
    expect(s.missedBy(10_000)).toBe(0)
  })
})

describe('requestLatency', () => {
  it('measures the response time from the intended send and the service time from the actual one', () => {
    // Due at 1000, sent at 1040 when a connection freed, answered at 1045.
    expect(requestLatency(1000, 1040, 1045)).toEqual({ responseMs: 45, serviceMs: 5 })
  })

  it('never counts from after the actual send', () => {
    expect(requestLatency(1050, 1040, 1045)).toEqual({ responseMs: 5, serviceMs: 5 })
  })

  it('a stalled server shows in every late request, not only in the one that waited', () => {
    // 100 requests/s, 1 connection; the server stalls 1 s on request 0, then answers each in 1 ms.
    const s = new SendSchedule(100, 0)
    const responses: number[] = []
    let now = 0
    for (let k = 0; k < 100; k++) {
      if (s.due(now) === 0) now = s.intendedAt(k)
      const intended = s.take(now)
      const done = now + (k === 0 ? 1000 : 1)
      responses.push(requestLatency(intended, now, done).responseMs)
      now = done
    }
    // Requests 1..99 were due during the stall: timed from their late sends they would all be 1 ms.
    expect(responses.filter((ms) => ms > 500).length).toBeGreaterThan(45)
    expect(Math.max(...responses.slice(1))).toBeGreaterThan(900)
  })
})
