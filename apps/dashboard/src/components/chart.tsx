import 'uplot/dist/uPlot.min.css'
import { useEffect, useId, useRef } from 'preact/hooks'
import uPlot from 'uplot'

export interface ChartSeries {
  label: string
  /** A CSS colour; the same one the legend and the stat above it use. */
  stroke: string
  /** Rates are drawn on a 0-100% axis of their own. */
  kind?: 'count' | 'rate'
}

interface ChartProps {
  /** What the chart shows, for people who cannot see it (its caption). */
  title: string
  /** Seconds since the epoch of each point, then one array per series (null for a gap). */
  data: [number[], ...(number | null)[][]]
  series: ChartSeries[]
  /** One sentence with the figures a screen reader should hear (the canvas says nothing). */
  summary: string
  height?: number
}

const rateAxis = (_: uPlot, ticks: number[]) => ticks.map((t) => `${Math.round(t * 100)}%`)
const upFromZero = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max)]
/** Counts are whole: no 0.2 of a click between ticks. */
const COUNT_STEPS = Array.from({ length: 10 }, (_, i) => [1, 2, 5].map((m) => m * 10 ** i)).flat()

/**
 * uPlot draws on a canvas: about 50 KB minified (20 KB gzipped), fast with thousands of points, and it
 * updates in place (setData) as each poll answers, without re-creating the chart.
 */
export function Chart({ title, data, series, summary, height = 220 }: ChartProps) {
  const summaryId = useId()
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const shape = series.map((s) => `${s.label}:${s.kind ?? 'count'}`).join('|')

  useEffect(() => {
    const el = box.current
    if (!el) return
    const rates = series.some((s) => s.kind === 'rate')
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          width: 2,
          scale: s.kind === 'rate' ? '%' : 'n',
          spanGaps: false,
          value: (_: uPlot, v: number | null) =>
            v === null ? '—' : s.kind === 'rate' ? `${(v * 100).toFixed(1)}%` : String(v),
        })),
      ],
      // Both from 0; a rate's axis to 100% at least (a CTR can pass it: clicks without an impression count).
      scales: { n: { range: upFromZero }, '%': { range: upFromZero } },
      axes: [{}, rates ? { scale: '%', values: rateAxis } : { scale: 'n', incrs: COUNT_STEPS }],
      cursor: { drag: { x: false, y: false } },
    }
    const u = new uPlot(opts, data as uPlot.AlignedData, el)
    plot.current = u
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }))
    resize.observe(el)
    return () => {
      resize.disconnect()
      u.destroy()
      plot.current = null
    }
    // The chart is rebuilt only when its series change; new data goes through setData below.
  }, [shape, height])

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData)
  }, [data])

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-canvas" role="img" aria-label={title} aria-describedby={summaryId} />
      <p id={summaryId} class="visually-hidden" data-chart-summary>
        {summary}
      </p>
    </figure>
  )
}
