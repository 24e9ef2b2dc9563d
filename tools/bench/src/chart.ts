// The benchmark's chart: throughput, latency and delivery backlog over the run, phases shaded and
// numbered, as a standalone SVG. Hand-written (no chart library) so that the bench adds no dependency;
// a pure function of the timeline, so that its geometry is tested without a run.
// Over 300 lines: the layout and the drawing share every constant and scale; split, each half would be
// read only with the other open.
import type { PhaseSpan, Timeline, TimelineSample } from './timeline.js'

type SeriesKey = Exclude<keyof TimelineSample, 't' | 'phase'>

interface SeriesSpec {
  key: SeriesKey
  label: string
  color: string
  dash?: string
}

interface PanelSpec {
  id: 'throughput' | 'latency' | 'backlog'
  title: string
  scale: 'linear' | 'log'
  height: number
  series: SeriesSpec[]
  /** Drawn only when some sample has one of its series. */
  optional?: boolean
  tickLabel: (v: number) => string
}

const PANELS: PanelSpec[] = [
  {
    id: 'throughput',
    title: 'throughput (clicks or events per second)',
    scale: 'linear',
    height: 190,
    series: [
      { key: 'ackedPerSecond', label: 'acknowledged by ingest-api (2xx)', color: '#1f77b4' },
      {
        key: 'storedPerSecond',
        label: 'visible in analytics / stored by the worker',
        color: '#2ca02c',
        dash: '6 3',
      },
    ],
    tickLabel: (v) => formatCount(v),
  },
  {
    id: 'latency',
    title: 'latency (ms, log scale)',
    scale: 'log',
    height: 190,
    series: [
      { key: 'p50Ms', label: 'request p50 (from intended send)', color: '#ff7f0e' },
      { key: 'p99Ms', label: 'request p99 (from intended send)', color: '#d62728' },
      { key: 'deliveryP99Ms', label: 'delivery p99 (2xx to visible)', color: '#9467bd', dash: '6 3' },
    ],
    tickLabel: (v) => formatMs(v),
  },
  {
    id: 'backlog',
    title: 'delivery backlog (acknowledged, not yet visible)',
    scale: 'linear',
    height: 110,
    optional: true,
    series: [{ key: 'backlog', label: 'clicks or events acknowledged, not yet visible', color: '#8c564b' }],
    tickLabel: (v) => formatCount(v),
  },
]

const MARGIN = { left: 72, right: 24, top: 34 }
/** Two rows of phase numbers, alternating, so that neighbours of narrow phases do not collide. */
const PHASE_ROW = 26
const PANEL_GAP = 34
const AXIS_HEIGHT = 40
const LINE_HEIGHT = 16
/** Two samples further apart than this (s) are not joined: something else ran in between. */
const MAX_JOIN_GAP = 2.5
const PHASE_FILLS = ['#e8eef7', '#f6f0e4']

export interface ChartOptions {
  width?: number
  title?: string
}

export interface PanelLayout {
  id: PanelSpec['id']
  top: number
  bottom: number
  /** Value to y pixel. */
  y: (v: number) => number
  ticks: number[]
  domain: [number, number]
}

export interface ChartLayout {
  width: number
  height: number
  left: number
  right: number
  /** Seconds since the start to x pixel. */
  x: (t: number) => number
  timeDomain: [number, number]
  timeTicks: number[]
  panels: PanelLayout[]
  /** Where the legends begin. */
  legendTop: number
}

/** Escapes text for an XML text node or attribute, and drops characters XML 1.0 does not allow. */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(
        /[&<>"']/g,
        (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
      )
  )
}

/** A step of 1, 2 or 5 times a power of ten, about `rough`. */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1
  const power = 10 ** Math.floor(Math.log10(rough))
  const f = rough / power
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power
}

function linearTicks(max: number, count = 5): { ticks: number[]; max: number } {
  const step = niceStep(max / count)
  const top = Math.max(step, Math.ceil(max / step) * step)
  const ticks: number[] = []
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)))
  return { ticks, max: top }
}

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v)

function valuesOf(samples: TimelineSample[], spec: PanelSpec): number[] {
  const out: number[] = []
  for (const s of samples)
    for (const series of spec.series) {
      const v = s[series.key]
      if (finite(v) && (spec.scale === 'linear' || v > 0)) out.push(v)
    }
  return out
}

/** Where everything goes: the scales and panel positions, for the renderer and for tests. */
export function chartLayout(timeline: Timeline, opts: ChartOptions = {}): ChartLayout {
  const width = opts.width ?? 1200
  const left = MARGIN.left
  const right = width - MARGIN.right
  const lastT = Math.max(0, ...timeline.phases.map((p) => p.end), ...timeline.samples.map((s) => s.t))
  const tEnd = lastT > 0 ? lastT : 1
  const x = (t: number) => left + (Math.min(Math.max(t, 0), tEnd) / tEnd) * (right - left)
  const timeStep = niceStep(tEnd / 10)
  const timeTicks: number[] = []
  for (let t = 0; t <= tEnd + 1e-9; t += timeStep) timeTicks.push(Number(t.toPrecision(12)))

  const panels: PanelLayout[] = []
  let top = MARGIN.top + PHASE_ROW + PANEL_GAP / 2
  for (const spec of PANELS) {
    const values = valuesOf(timeline.samples, spec)
    if (spec.optional && values.length === 0) continue
    const panelTop = top
    const bottom = panelTop + spec.height
    if (spec.scale === 'linear') {
      const { ticks, max } = linearTicks(Math.max(0, ...values))
      const y = (v: number) => bottom - (Math.min(Math.max(v, 0), max) / max) * (bottom - panelTop)
      panels.push({ id: spec.id, top: panelTop, bottom, y, ticks, domain: [0, max] })
    } else {
      const lo = values.length ? 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...values)))) : 1
      let hi = values.length ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : 1000
      if (hi <= lo) hi = lo * 10
      const span = Math.log10(hi) - Math.log10(lo)
      const y = (v: number) => {
        const clamped = Math.min(Math.max(v, lo), hi)
        return bottom - ((Math.log10(clamped) - Math.log10(lo)) / span) * (bottom - panelTop)
      }
      const ticks: number[] = []
      for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++)
        ticks.push(Number((10 ** e).toPrecision(6)))
      panels.push({ id: spec.id, top: panelTop, bottom, y, ticks, domain: [lo, hi] })
    }
    top = bottom + PANEL_GAP
  }
  const plotBottom = panels.at(-1)?.bottom ?? top
  const legendTop = plotBottom + AXIS_HEIGHT
  const legendRows = PANELS.reduce((n, p) => n + p.series.length, 0)
  const keyRows = phaseKeyRows(timeline.phases, right - left).length
  const height = Math.ceil(legendTop + (legendRows + keyRows + 2) * LINE_HEIGHT)
  return {
    width,
    height,
    left,
    right,
    x,
    timeDomain: [0, tEnd],
    timeTicks,
    panels,
    legendTop,
  }
}

const phaseEntry = (p: PhaseSpan, i: number) =>
  `${i + 1} ${p.name} (${Math.round(p.start)}-${Math.round(p.end)} s)`

/** The phase key ("1 name  2 name ..."), as rows that fit `width` at about 6.5 px a character. */
function phaseKeyRows(phases: PhaseSpan[], width: number): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let used = 0
  phases.forEach((p, i) => {
    const entry = phaseEntry(p, i)
    const w = (entry.length + 3) * 6.5
    if (row.length > 0 && used + w > width) {
      rows.push(row)
      row = []
      used = 0
    }
    row.push(entry)
    used += w
  })
  if (row.length > 0) rows.push(row)
  return rows
}

const r1 = (v: number) => (Math.round(v * 10) / 10).toString()

/** The path of one series: segments broken at phase changes and at gaps in time. */
export function seriesPath(
  samples: TimelineSample[],
  key: SeriesKey,
  x: (t: number) => number,
  y: (v: number) => number,
  log = false,
): string {
  const parts: string[] = []
  let previous: TimelineSample | undefined
  for (const s of samples) {
    const v = s[key]
    // A sample without this figure (another series', or a second with no requests) is skipped, not a gap.
    if (!finite(v) || (log && v <= 0)) continue
    const joined = previous !== undefined && previous.phase === s.phase && s.t - previous.t <= MAX_JOIN_GAP
    parts.push(`${joined ? 'L' : 'M'}${r1(x(s.t))},${r1(y(v))}`)
    previous = s
  }
  return parts.join(' ')
}

export function formatCount(v: number): string {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`
  if (v >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`
  return `${Number(v.toPrecision(3))}`
}

export function formatMs(v: number): string {
  return v >= 1000 ? `${Number((v / 1000).toPrecision(3))} s` : `${Number(v.toPrecision(3))} ms`
}

const text = (x: number, y: number, content: string, attrs = '') =>
  `<text x="${r1(x)}" y="${r1(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`

export function renderChart(timeline: Timeline, opts: ChartOptions = {}): string {
  const layout = chartLayout(timeline, opts)
  const { width, height, left, right, x } = layout
  const first = layout.panels[0]
  const last = layout.panels.at(-1)
  const plotTop = first?.top ?? MARGIN.top
  const plotBottom = last?.bottom ?? plotTop
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(opts.title ?? 'benchmark')}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(left, 20, opts.title ?? 'benchmark', 'font-size="14" font-weight="bold"'),
  ]

  // Phases: a shaded band through every panel, numbered above (when there is room: the key below gives
  // every phase's number, name and time span).
  out.push('<g class="phases">')
  timeline.phases.forEach((p, i) => {
    const x0 = x(p.start)
    const w = Math.max(1, x(p.end) - x0)
    out.push(
      `<rect class="phase" data-phase="${escapeXml(p.name)}" x="${r1(x0)}" y="${r1(plotTop)}" width="${r1(w)}" height="${r1(plotBottom - plotTop)}" fill="${PHASE_FILLS[i % 2]}" stroke="#c8ccd2" stroke-width="0.5"><title>${escapeXml(phaseEntry(p, i))}</title></rect>`,
    )
    if (w >= 8)
      out.push(
        text(
          x0 + w / 2,
          plotTop - PANEL_GAP / 2 - 4 - (i % 2) * 12,
          String(i + 1),
          'text-anchor="middle" fill="#555"',
        ),
      )
  })
  out.push('</g>')

  for (const panel of layout.panels) {
    const spec = PANELS.find((p) => p.id === panel.id) as PanelSpec
    out.push(`<g class="panel" data-panel="${panel.id}">`)
    out.push(text(left, panel.top - 6, spec.title, 'font-weight="bold"'))
    for (const v of panel.ticks) {
      const y = panel.y(v)
      out.push(
        `<line x1="${left}" x2="${right}" y1="${r1(y)}" y2="${r1(y)}" stroke="#d0d0d0" stroke-width="0.5"/>`,
        text(left - 6, y + 4, spec.tickLabel(v), 'text-anchor="end"'),
      )
    }
    out.push(
      `<line x1="${left}" x2="${left}" y1="${r1(panel.top)}" y2="${r1(panel.bottom)}" stroke="#333"/>`,
      `<line x1="${left}" x2="${right}" y1="${r1(panel.bottom)}" y2="${r1(panel.bottom)}" stroke="#333"/>`,
    )
    for (const series of spec.series) {
      const d = seriesPath(timeline.samples, series.key, x, panel.y, spec.scale === 'log')
      if (!d) continue
      out.push(
        `<path class="series" data-series="${series.key}" d="${d}" fill="none" stroke="${series.color}" stroke-width="1.5"${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>`,
      )
      // A segment of one point (a phase with one sample) draws no line: mark it with a dot.
      for (const lone of d.matchAll(/M([\d.-]+),([\d.-]+)(?![\d.]| L)/g))
        out.push(`<circle cx="${lone[1]}" cy="${lone[2]}" r="2" fill="${series.color}"/>`)
    }
    out.push('</g>')
  }
  if (timeline.samples.length === 0)
    out.push(
      text((left + right) / 2, (plotTop + plotBottom) / 2, 'no samples recorded', 'text-anchor="middle"'),
    )

  // The time axis, under the last panel.
  out.push('<g class="axis" data-axis="time">')
  for (const t of layout.timeTicks) {
    const tx = x(t)
    out.push(
      `<line x1="${r1(tx)}" x2="${r1(tx)}" y1="${r1(plotBottom)}" y2="${r1(plotBottom + 5)}" stroke="#333"/>`,
      text(tx, plotBottom + 17, `${t} s`, 'text-anchor="middle"'),
    )
  }
  out.push(
    text((left + right) / 2, plotBottom + 33, 'time since the start of the run', 'text-anchor="middle"'),
  )
  out.push('</g>')

  // Legends: every series, then the phase key.
  let y = layout.legendTop + LINE_HEIGHT
  out.push('<g class="legend">')
  for (const spec of PANELS)
    for (const series of spec.series) {
      out.push(
        `<line x1="${left}" x2="${left + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${series.color}" stroke-width="2"${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>`,
        text(left + 30, y, `${series.label} (${spec.id})`, `data-legend="${series.key}"`),
      )
      y += LINE_HEIGHT
    }
  out.push('</g><g class="phase-key">')
  y += LINE_HEIGHT / 2
  for (const row of phaseKeyRows(timeline.phases, right - left)) {
    out.push(text(left, y, row.join('   ')))
    y += LINE_HEIGHT
  }
  out.push('</g></svg>')
  return `${out.join('\n')}\n`
}
