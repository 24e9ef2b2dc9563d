import { describe, expect, it } from 'vitest'
import { TimelineRecorder } from './timeline.js'

describe('TimelineRecorder', () => {
  it('times phases and samples from its start, each sample in the phase current when taken', () => {
    let now = 100
    const timeline = new TimelineRecorder(() => now)
    now = 101
    timeline.sample({ ackedPerSecond: 1 })
    timeline.phase('(a) one')
    now = 103
    timeline.sample({ ackedPerSecond: 2, p99Ms: 5 })
    timeline.phase('(b) two')
    now = 104
    timeline.end()
    now = 106
    timeline.sample({ storedPerSecond: 3 })
    timeline.phase('(c) three')
    now = 110
    expect(timeline.toJSON()).toEqual({
      phases: [
        { name: '(a) one', start: 1, end: 3 },
        { name: '(b) two', start: 3, end: 4 },
        { name: '(c) three', start: 6, end: 10 },
      ],
      samples: [
        { t: 1, phase: '', ackedPerSecond: 1 },
        { t: 3, phase: '(a) one', ackedPerSecond: 2, p99Ms: 5 },
        { t: 6, phase: '', storedPerSecond: 3 },
      ],
    })
  })
})
