import { describe, expect, it } from 'vitest'
import { chartLayout, escapeXml, formatCount, formatMs, niceStep, renderChart, seriesPath } from './chart.js'
import type { Timeline } from './timeline.js'
import { xmlProblems } from './well-formed.js'

const timeline: Timeline = {
  phases: [
    { name: '(c) worker drain', start: 0, end: 10 },
    { name: '(b) single at 2,000/s', start: 12, end: 20 },
  ],
  samples: [
    { t: 1, phase: '(c) worker drain', storedPerSecond: 20_000 },
    { t: 2, phase: '(c) worker drain', storedPerSecond: 30_000 },
    { t: 13, phase: '(b) single at 2,000/s', ackedPerSecond: 2000, p50Ms: 10, p99Ms: 100, backlog: 50 },
    { t: 14, phase: '(b) single at 2,000/s', ackedPerSecond: 1000, p50Ms: 1, p99Ms: 1000, backlog: 0 },
  ],
}

/** The coordinates of a path's points, as [x, y] numbers, and how many segments ("M") it has. */
function points(d: string) {
  return {
    segments: (d.match(/M/g) ?? []).length,
    xy: [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]),
  }
}

function pathOf(svg: string, key: string): string {
  const d = new RegExp(`data-series="${key}" d="([^"]*)"`).exec(svg)?.[1]
  if (d === undefined) throw new Error(`no ${key} series`)
  return d
}

describe('chartLayout', () => {
  const layout = chartLayout(timeline, { width: 1000 })
  const panel = (id: string) => {
    const p = layout.panels.find((q) => q.id === id)
    if (!p) throw new Error(`no ${id} panel`)
    return p
  }

  it('maps time linearly from the left edge (0 s) to the right edge (the end of the run)', () => {
    expect(layout.timeDomain).toEqual([0, 20])
    expect(layout.x(0)).toBe(layout.left)
    expect(layout.x(20)).toBe(layout.right)
    expect(layout.x(10)).toBeCloseTo((layout.left + layout.right) / 2)
  })

  it('maps throughput linearly from 0 at the bottom to a round maximum at the top', () => {
    const p = panel('throughput')
    expect(p.domain[0]).toBe(0)
    expect(p.domain[1]).toBeGreaterThanOrEqual(30_000)
    expect(p.ticks).toContain(p.domain[1])
    expect(p.y(0)).toBe(p.bottom)
    expect(p.y(p.domain[1])).toBe(p.top)
    expect(p.y(p.domain[1] / 2)).toBeCloseTo((p.top + p.bottom) / 2)
  })

  it('maps latency on a log scale spanning whole decades of the values', () => {
    const p = panel('latency')
    expect(p.domain).toEqual([1, 1000])
    expect(p.ticks).toEqual([1, 10, 100, 1000])
    expect(p.y(1)).toBe(p.bottom)
    expect(p.y(1000)).toBe(p.top)
    expect(p.y(1) - p.y(10)).toBeCloseTo(p.y(10) - p.y(100))
    expect(p.y(100) - p.y(1000)).toBeCloseTo(p.y(10) - p.y(100))
  })

  it('draws the backlog panel only when some sample has a backlog', () => {
    expect(layout.panels.map((p) => p.id)).toEqual(['throughput', 'latency', 'backlog'])
    const without = { ...timeline, samples: timeline.samples.map(({ backlog: _, ...s }) => s) }
    expect(chartLayout(without).panels.map((p) => p.id)).toEqual(['throughput', 'latency'])
  })

  it('stacks the panels without overlap, all inside the picture', () => {
    for (const [a, b] of layout.panels.slice(1).map((p, i) => [layout.panels[i], p] as const))
      expect(b.top).toBeGreaterThan(a?.bottom ?? Number.POSITIVE_INFINITY)
    expect(layout.legendTop).toBeLessThan(layout.height)
  })
})

describe('renderChart', () => {
  const svg = renderChart(timeline, { width: 1000, title: 'bench <test> & "run"' })
  const layout = chartLayout(timeline, { width: 1000 })

  it('is well-formed XML with one svg root', () => {
    expect(xmlProblems(svg)).toEqual([])
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg).not.toMatch(/NaN|Infinity|undefined/)
  })

  it('puts each point where its time and value map to', () => {
    const throughput = layout.panels[0]
    const latency = layout.panels[1]
    if (!throughput || !latency) throw new Error('panels missing')
    const acked = points(pathOf(svg, 'ackedPerSecond')).xy
    expect(acked).toHaveLength(2)
    expect(acked[0]?.[0]).toBeCloseTo(layout.x(13), 1)
    expect(acked[0]?.[1]).toBeCloseTo(throughput.y(2000), 1)
    expect(acked[1]?.[1]).toBeCloseTo(throughput.y(1000), 1)
    // Twice the throughput is twice as far above the axis.
    expect(throughput.bottom - (acked[0]?.[1] as number)).toBeCloseTo(
      2 * (throughput.bottom - (acked[1]?.[1] as number)),
      0,
    )
    const p99 = points(pathOf(svg, 'p99Ms')).xy
    expect(p99.map(([, y]) => y)).toEqual(
      [latency.y(100), latency.y(1000)].map((y) => Math.round(y * 10) / 10),
    )
  })

  it('draws a series only where it has values, and breaks it between phases and across gaps in time', () => {
    const stored = points(pathOf(svg, 'storedPerSecond'))
    expect(stored.xy).toHaveLength(2)
    expect(stored.segments).toBe(1)
    expect(svg).not.toContain('data-series="deliveryP99Ms"')
    const x = (t: number) => t
    const y = (v: number) => v
    const d = seriesPath(
      [
        { t: 1, phase: 'a', p99Ms: 5 },
        { t: 2, phase: 'a', p99Ms: 6 },
        { t: 3, phase: 'b', p99Ms: 7 },
        { t: 9, phase: 'b', p99Ms: 8 },
        { t: 10, phase: 'b' },
        { t: 11, phase: 'b', p99Ms: 9 },
        { t: 12, phase: 'b', p99Ms: 0 },
      ],
      'p99Ms',
      x,
      y,
      true,
    )
    expect(d).toBe('M1,5 L2,6 M3,7 M9,8 L11,9')
  })

  it('marks a point that has no neighbour to join with a dot', () => {
    const lone = renderChart({
      phases: [],
      samples: [
        { t: 1, phase: 'a', ackedPerSecond: 10 },
        { t: 2, phase: 'b', ackedPerSecond: 20 },
        { t: 3, phase: 'b', ackedPerSecond: 30 },
      ],
    })
    const layout = chartLayout({
      phases: [],
      samples: [{ t: 3, phase: 'b', ackedPerSecond: 30 }],
    })
    const dots = [...lone.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ])
    expect(dots).toHaveLength(1)
    expect(dots[0]?.[0]).toBeCloseTo(layout.x(1), 1)
  })

  it('shades and numbers every phase across its time span, and names it in the key', () => {
    for (const [i, p] of timeline.phases.entries()) {
      const name = escapeXml(p.name).replace(/[()]/g, '\\$&')
      const rect = new RegExp(
        `<rect class="phase" data-phase="${name}" x="([\\d.]+)" y="[\\d.]+" width="([\\d.]+)"`,
      ).exec(svg)
      expect(rect, p.name).not.toBeNull()
      expect(Number(rect?.[1])).toBeCloseTo(layout.x(p.start), 1)
      expect(Number(rect?.[2])).toBeCloseTo(layout.x(p.end) - layout.x(p.start), 1)
      expect(svg).toContain(`${i + 1} ${escapeXml(p.name)} (${p.start}-${p.end} s)`)
    }
  })

  it('has axes with tick labels and a legend entry for every series', () => {
    expect(svg).toContain('>0 s<')
    expect(svg).toContain('>20 s<')
    expect(svg).toContain('>1 s<') // 1000 ms on the latency axis
    expect(svg).toContain('>10 ms<')
    expect(svg).toContain('>30k<')
    for (const key of ['ackedPerSecond', 'storedPerSecond', 'p50Ms', 'p99Ms', 'deliveryP99Ms', 'backlog'])
      expect(svg).toContain(`data-legend="${key}"`)
  })

  it('escapes text it is given', () => {
    expect(svg).toContain('bench &lt;test&gt; &amp; &quot;run&quot;')
    expect(svg).not.toContain('<test>')
    const odd = renderChart({ phases: [{ name: `<script>"a" & 'b'\u0001`, start: 0, end: 1 }], samples: [] })
    expect(xmlProblems(odd)).toEqual([])
    expect(odd).toContain('&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;')
    expect(odd).not.toContain('\u0001')
  })

  it('renders an empty run as a valid picture that says so', () => {
    const empty = renderChart({ phases: [], samples: [] })
    expect(xmlProblems(empty)).toEqual([])
    expect(empty).toContain('no samples recorded')
    expect(empty).not.toMatch(/NaN|Infinity|undefined/)
  })

  it('copes with a single sample, zeros and non-finite values', () => {
    const svg1 = renderChart({
      phases: [{ name: 'x', start: 0, end: 0 }],
      samples: [{ t: 0, phase: 'x', ackedPerSecond: 0, p50Ms: 0, p99Ms: Number.NaN, backlog: 0 }],
    })
    expect(xmlProblems(svg1)).toEqual([])
    expect(svg1).not.toMatch(/NaN|Infinity|undefined/)
  })
})

describe('number formats', () => {
  it('rounds ticks to 1, 2 or 5 times a power of ten', () => {
    expect([0.7, 1.5, 3, 7, 120, 4000].map(niceStep)).toEqual([1, 2, 5, 10, 200, 5000])
    expect(niceStep(0)).toBe(1)
  })

  it('writes counts and durations shortly', () => {
    expect([0, 500, 2500, 30_000, 1_500_000].map(formatCount)).toEqual(['0', '500', '2.5k', '30k', '1.5M'])
    expect([0.1, 10, 250, 1000, 15_000].map(formatMs)).toEqual(['0.1 ms', '10 ms', '250 ms', '1 s', '15 s'])
  })
})

describe('xmlProblems', () => {
  it('finds what makes a document not well-formed', () => {
    expect(xmlProblems('<a><b></a>')).not.toEqual([])
    expect(xmlProblems('<a x="1" x="2"/>')).not.toEqual([])
    expect(xmlProblems('<a>1 & 2</a>')).not.toEqual([])
    expect(xmlProblems('<a>1 < 2</a>')).not.toEqual([])
    expect(xmlProblems('<a/><b/>')).not.toEqual([])
    expect(xmlProblems('<a>')).not.toEqual([])
    expect(xmlProblems('<?xml version="1.0"?>\n<a x=\'1\'><!-- c --><b/>1 &lt; 2 &#38;</a>\n')).toEqual([])
  })
})
