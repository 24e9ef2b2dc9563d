import type { Ad, AdAnalytics, Granularity, Timeseries } from '@adtrack/contracts'
import { useMemo, useState } from 'preact/hooks'
import { adPath, api } from '../api.js'
import { Chart } from '../components/chart.js'
import { Empty, ErrorMessage, Loading, Stat, Updated } from '../components/common.js'
import { formatCount, formatRate, toLocalInput } from '../format.js'
import { funnel } from '../funnel.js'
import { usePolled } from '../poll.js'
import { hrefOf } from '../router.js'

const HOUR = 3600_000
/** Ranges ending now (refreshed live), with the granularity each reads best at. */
const PRESETS = {
  '1h': { label: 'Last hour', ms: HOUR, granularity: 'minute' },
  '6h': { label: 'Last 6 hours', ms: 6 * HOUR, granularity: 'minute' },
  '24h': { label: 'Last 24 hours', ms: 24 * HOUR, granularity: 'hour' },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * HOUR, granularity: 'hour' },
  '30d': { label: 'Last 30 days', ms: 30 * 24 * HOUR, granularity: 'day' },
} as const satisfies Record<string, { label: string; ms: number; granularity: Granularity }>
type Preset = keyof typeof PRESETS

interface Range {
  preset: Preset | 'custom'
  granularity: Granularity
  /** For a custom range: what the two datetime-local inputs hold, in the viewer's zone. */
  from: string
  to: string
}

interface AdFigures {
  analytics: AdAnalytics
  series: Timeseries
}

const COLORS = { impressions: '#1d4ed8', clicks: '#b45309', ctr: '#7c3aed', completion: '#047857' }

function bounds(range: Range): { from: string; to: string } {
  if (range.preset === 'custom') {
    const from = new Date(range.from)
    const to = new Date(range.to)
    if (Number.isNaN(+from) || Number.isNaN(+to)) throw new Error('Pick a start and an end for the range.')
    return { from: from.toISOString(), to: to.toISOString() }
  }
  const to = Date.now()
  return { from: new Date(to - PRESETS[range.preset].ms).toISOString(), to: new Date(to).toISOString() }
}

/** One ad: its lifetime figures and funnel, and a time series over a range the viewer picks. */
export function AdView({ id }: { id: string }) {
  const [range, setRange] = useState<Range>(() => {
    const now = new Date()
    return {
      preset: '1h',
      granularity: 'minute',
      from: toLocalInput(new Date(+now - HOUR)),
      to: toLocalInput(now),
    }
  })
  // The ad itself (title, status, URLs) changes rarely: read once per visit, not every refresh.
  const ad = usePolled<Ad>(`ad:${id}`, (_p, signal) => api<Ad>(adPath(id), { signal }), { live: false })
  const live = range.preset !== 'custom'
  const key = `${id}:${range.preset}:${range.granularity}:${range.from}:${range.to}`
  // Two requests per refresh for the one ad on screen: its lifetime figures and the range's buckets.
  const figures = usePolled<AdFigures>(
    key,
    async (_p, signal) => {
      const { from, to } = bounds(range)
      const q = new URLSearchParams({ from, to, granularity: range.granularity })
      const [analytics, series] = await Promise.all([
        api<AdAnalytics>(`/ads/analytics?ad_id=${encodeURIComponent(id)}`, { signal }),
        api<Timeseries>(`${adPath(id)}/analytics/timeseries?${q}`, { signal }),
      ])
      return { analytics, series }
    },
    { live },
  )
  const a = figures.data?.analytics
  const noTraffic =
    a !== undefined && a.impressions === 0 && a.click_count === 0 && a.invalid_click_count === 0

  return (
    <section aria-labelledby="ad-title">
      <p class="crumbs">
        <a href={hrefOf.ads}>← All ads</a>
      </p>
      <div class="view-head">
        <h1 id="ad-title" data-ad-title>
          {ad.data?.title ?? id}
        </h1>
        <Updated at={figures.updatedAt} live={live} />
      </div>
      <ErrorMessage error={ad.error} />
      {ad.data && <AdFacts ad={ad.data} />}
      <ErrorMessage error={figures.error} />
      {figures.loading && <Loading what="this ad’s figures" />}
      {a && (
        <>
          <dl class="stats card">
            <Stat label="Impressions" name="ad-impressions" value={formatCount(a.impressions)} />
            <Stat label="Clicks" name="ad-clicks" value={formatCount(a.click_count)} />
            <Stat label="CTR" name="ad-ctr" value={formatRate(a.ctr)} />
            <Stat label="Completion rate" name="ad-completion" value={formatRate(a.completion_rate)} />
            <Stat label="Unique viewers" name="ad-viewers" value={formatCount(a.unique_impression_viewers)} />
            <Stat label="Unique clickers" name="ad-clickers" value={formatCount(a.unique_viewers)} />
          </dl>
          {noTraffic && (
            <Empty>
              No traffic yet: nothing has been shown or clicked. Put the VAST tag above in a player to start.
            </Empty>
          )}
        </>
      )}
      <RangePicker range={range} onChange={setRange} />
      {figures.data && <SeriesCharts series={figures.data.series} />}
      {a && (
        <div class="two-cols">
          <Funnel analytics={a} />
          <Problems analytics={a} />
        </div>
      )}
    </section>
  )
}

function AdFacts({ ad }: { ad: Ad }) {
  const tag = `${location.origin}${adPath(ad.id)}/vast`
  const [copied, setCopied] = useState('')
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(tag)
      setCopied('Copied.')
    } catch {
      // No clipboard permission (an insecure origin, a denied prompt): select it for Ctrl+C instead.
      ;(document.getElementById('vast-tag') as HTMLInputElement | null)?.select()
      setCopied('Selected: press Ctrl+C to copy.')
    }
  }
  return (
    <div class="card facts">
      <dl class="facts-list">
        <div>
          <dt>Status</dt>
          <dd>
            <span class={`status status-${ad.status}`}>{ad.status}</span>
          </dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd>
            <code>{ad.id}</code>
          </dd>
        </div>
        <div>
          <dt>Landing page</dt>
          <dd class="url" data-ad-target>
            {ad.target_url}
          </dd>
        </div>
        <div>
          <dt>Video</dt>
          <dd>
            {ad.media
              ? `${ad.media.type}, ${ad.media.width}×${ad.media.height}, ${ad.media.duration_seconds} s`
              : 'none (no VAST tag)'}
          </dd>
        </div>
      </dl>
      <div class="field tag-field">
        <label for="vast-tag">VAST tag URL</label>
        <div class="inline">
          <input id="vast-tag" type="text" readOnly value={tag} />
          <button type="button" onClick={copy}>
            Copy
          </button>
        </div>
        <p class="hint" role="status">
          {copied}
        </p>
      </div>
    </div>
  )
}

function RangePicker({ range, onChange }: { range: Range; onChange: (r: Range) => void }) {
  const value = (e: Event) => (e.currentTarget as HTMLInputElement).value
  return (
    <form class="card range" aria-label="Time range" onSubmit={(e) => e.preventDefault()}>
      <div class="field">
        <label for="range-preset">Range</label>
        <select
          id="range-preset"
          value={range.preset}
          onChange={(e) => {
            const preset = value(e) as Range['preset']
            const granularity = preset === 'custom' ? range.granularity : PRESETS[preset].granularity
            onChange({ ...range, preset, granularity })
          }}
        >
          {Object.entries(PRESETS).map(([k, p]) => (
            <option key={k} value={k}>
              {p.label}
            </option>
          ))}
          <option value="custom">Custom</option>
        </select>
      </div>
      {range.preset === 'custom' && (
        <>
          <div class="field">
            <label for="range-from">From</label>
            <input
              id="range-from"
              type="datetime-local"
              value={range.from}
              onChange={(e) => onChange({ ...range, from: value(e) })}
            />
          </div>
          <div class="field">
            <label for="range-to">To</label>
            <input
              id="range-to"
              type="datetime-local"
              value={range.to}
              onChange={(e) => onChange({ ...range, to: value(e) })}
            />
          </div>
        </>
      )}
      <div class="field">
        <label for="range-granularity">Granularity</label>
        <select
          id="range-granularity"
          value={range.granularity}
          onChange={(e) => onChange({ ...range, granularity: value(e) as Granularity })}
        >
          <option value="minute">Minute</option>
          <option value="hour">Hour</option>
          <option value="day">Day</option>
        </select>
      </div>
    </form>
  )
}

function SeriesCharts({ series }: { series: Timeseries }) {
  const b = series.buckets
  const { volume, rates } = useMemo(() => {
    const x = b.map((k) => Date.parse(k.start) / 1000)
    return {
      volume: [x, b.map((k) => k.impressions), b.map((k) => k.click_count)] as [number[], number[], number[]],
      rates: [x, b.map((k) => k.ctr), b.map((k) => k.completion_rate)] as [
        number[],
        (number | null)[],
        (number | null)[],
      ],
    }
  }, [series])
  const impressions = b.reduce((n, k) => n + k.impressions, 0)
  const clicks = b.reduce((n, k) => n + k.click_count, 0)
  const per = `per ${series.granularity}`
  return (
    <div class="card charts">
      <Chart
        title={`Impressions and clicks ${per}`}
        data={volume}
        series={[
          { label: 'Impressions', stroke: COLORS.impressions },
          { label: 'Clicks', stroke: COLORS.clicks },
        ]}
        summary={`${formatCount(impressions)} impressions and ${formatCount(clicks)} clicks in ${b.length} buckets.`}
      />
      <Chart
        title={`CTR and completion rate ${per}`}
        data={rates}
        series={[
          { label: 'CTR', stroke: COLORS.ctr, kind: 'rate' },
          { label: 'Completion rate', stroke: COLORS.completion, kind: 'rate' },
        ]}
        summary={`Over the range: CTR ${formatRate(impressions ? clicks / impressions : null)}.`}
      />
    </div>
  )
}

function Funnel({ analytics }: { analytics: AdAnalytics }) {
  const steps = funnel(analytics)
  return (
    <section class="card" aria-labelledby="funnel-title">
      <h2 id="funnel-title">Quartile funnel (all time)</h2>
      <table class="numbers funnel">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col" class="num">
              Count
            </th>
            <th scope="col" class="num">
              Of impressions
            </th>
            <th scope="col" class="num">
              Drop-off
            </th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s) => (
            <tr key={s.key} data-funnel={s.key}>
              <th scope="row">{s.label}</th>
              <td class="num" data-funnel-count>
                {formatCount(s.count)}
              </td>
              <td class="num">
                <span class="bar" aria-hidden="true">
                  <span class="bar-fill" style={{ width: `${Math.min(1, s.ofImpressions ?? 0) * 100}%` }} />
                </span>
                {formatRate(s.ofImpressions)}
              </td>
              <td class="num">{s.key === 'impression' ? '' : formatRate(s.dropOff)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

const REASONS = [
  ['bot', 'Bots'],
  ['repeat', 'Repeats'],
  ['over_budget', 'Over budget'],
  ['inactive_ad', 'Ad paused or unknown'],
] as const

function Problems({ analytics: a }: { analytics: AdAnalytics }) {
  const errors = Object.entries(a.errors).sort(([x], [y]) => x.localeCompare(y))
  return (
    <section class="card" aria-labelledby="problems-title">
      <h2 id="problems-title">Errors and invalid traffic</h2>
      <h3>Player errors by VAST code</h3>
      {errors.length === 0 ? (
        <Empty>No player errors.</Empty>
      ) : (
        <table class="numbers">
          <thead>
            <tr>
              <th scope="col">VAST code</th>
              <th scope="col" class="num">
                Errors
              </th>
            </tr>
          </thead>
          <tbody>
            {errors.map(([code, n]) => (
              <tr key={code}>
                <th scope="row">{code === 'unknown' ? 'no code given' : code}</th>
                <td class="num">{formatCount(n)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Invalid clicks by reason</h3>
      <table class="numbers">
        <tbody>
          {REASONS.map(([k, label]) => (
            <tr key={k}>
              <th scope="row">{label}</th>
              <td class="num" data-invalid={k}>
                {formatCount(a.invalid_clicks[k])}
              </td>
            </tr>
          ))}
          <tr>
            <th scope="row">Invalid events (bots)</th>
            <td class="num">{formatCount(a.invalid_event_count)}</td>
          </tr>
        </tbody>
      </table>
    </section>
  )
}
