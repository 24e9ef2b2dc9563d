import type {
  OVERVIEW_CTR_MIN_IMPRESSIONS,
  OVERVIEW_TOP_WINDOW_MINUTES,
  Overview,
  TrafficTotals,
} from '@adtrack/contracts'
import { useMemo, useRef } from 'preact/hooks'
import { useAdTitles } from '../ad-titles.js'
import { getIfChanged } from '../api.js'
import { Chart } from '../components/chart.js'
import { Empty, ErrorMessage, Loading, Stat, Updated } from '../components/common.js'
import { formatCount, formatRate, localMidnight, share } from '../format.js'
import { usePolled } from '../poll.js'
import { hrefOf } from '../router.js'

const COLORS = { impressions: '#1d4ed8', clicks: '#b45309' }

// TRICKY: the contracts are imported as types only (no server code in the bundle), so their constants are
// restated here with the constant's own literal type: a change on the server's side fails the typecheck.
const TOP_WINDOW_MINUTES: typeof OVERVIEW_TOP_WINDOW_MINUTES = 5
const CTR_MIN_IMPRESSIONS: typeof OVERVIEW_CTR_MIN_IMPRESSIONS = 20

/**
 * The whole system at a glance. One request per refresh: GET /analytics/overview with If-None-Match, so
 * a quiet system answers 304 with no body, and the cost does not grow with the number of ads.
 */
export function OverviewView() {
  const titles = useAdTitles()
  const etag = useRef<string | undefined>(undefined)
  const overview = usePolled<Overview>('overview', async (previous, signal) => {
    // The viewer's "today" starts at their own midnight, not UTC's.
    const todayFrom = localMidnight(new Date()).toISOString()
    const reply = await getIfChanged<Overview>(
      `/analytics/overview?today_from=${encodeURIComponent(todayFrom)}`,
      previous ? etag.current : undefined,
      signal,
    )
    if (!reply.changed) return previous as Overview
    etag.current = reply.etag
    return reply.data
  })
  const data = overview.data

  return (
    <section aria-labelledby="overview-title">
      <div class="view-head">
        <h1 id="overview-title">Overview</h1>
        <Updated at={overview.updatedAt} live />
      </div>
      <ErrorMessage error={overview.error} />
      {overview.loading && <Loading what="today’s traffic" />}
      {data && (
        <>
          <div class="totals">
            <Totals title="Today" name="today" totals={data.today} />
            <Totals title="Last hour" name="hour" totals={data.last_hour} />
          </div>
          <MinuteChart minutes={data.minutes} />
          <InvalidTraffic today={data.today} />
          <TopAds top={data.top} titles={titles} />
        </>
      )}
    </section>
  )
}

function Totals({ title, name, totals }: { title: string; name: string; totals: TrafficTotals }) {
  return (
    <section class="card" aria-labelledby={`${name}-title`}>
      <h2 id={`${name}-title`}>{title}</h2>
      <dl class="stats">
        <Stat label="Impressions" name={`${name}-impressions`} value={formatCount(totals.impressions)} />
        <Stat label="Clicks" name={`${name}-clicks`} value={formatCount(totals.click_count)} />
        <Stat label="CTR" name={`${name}-ctr`} value={formatRate(totals.ctr)} />
        <Stat
          label="Completion rate"
          name={`${name}-completion`}
          value={formatRate(totals.completion_rate)}
        />
      </dl>
    </section>
  )
}

function MinuteChart({ minutes }: { minutes: Overview['minutes'] }) {
  // A new array only when the reply changed (a 304 keeps the same object), so uPlot redraws only then.
  const data = useMemo(
    () =>
      [
        minutes.map((m) => Date.parse(m.start) / 1000),
        minutes.map((m) => m.impressions),
        minutes.map((m) => m.click_count),
      ] as [number[], number[], number[]],
    [minutes],
  )
  const impressions = minutes.reduce((n, m) => n + m.impressions, 0)
  const clicks = minutes.reduce((n, m) => n + m.click_count, 0)
  const now = minutes[minutes.length - 1]
  const summary =
    `${formatCount(impressions)} impressions and ${formatCount(clicks)} clicks in the last ${minutes.length} minutes; ` +
    `this minute ${formatCount(now?.impressions ?? 0)} impressions and ${formatCount(now?.click_count ?? 0)} clicks.`
  return (
    <section class="card" aria-labelledby="minutes-title">
      <h2 id="minutes-title">Per minute</h2>
      <Chart
        title="Impressions and clicks per minute, the last hour"
        data={data}
        series={[
          { label: 'Impressions', stroke: COLORS.impressions },
          { label: 'Clicks', stroke: COLORS.clicks },
        ]}
        summary={summary}
      />
    </section>
  )
}

const CLICK_REASONS = [
  ['bot', 'Bot clicks'],
  ['repeat', 'Repeated clicks'],
  ['over_budget', 'Clicks over a viewer’s budget'],
  ['inactive_ad', 'Clicks on paused or unknown ads'],
] as const

function InvalidTraffic({ today }: { today: TrafficTotals }) {
  const invalid = Object.values(today.invalid_clicks).reduce((n, c) => n + c, 0) + today.invalid_events
  // invalid_share = invalid / all traffic, so all traffic is invalid / invalid_share: each reason's share
  // of all traffic follows without another field (and with no invalid traffic every share is 0).
  const all = today.invalid_share ? invalid / today.invalid_share : 0
  const rows: [string, string, number][] = [
    ...CLICK_REASONS.map(([k, label]): [string, string, number] => [k, label, today.invalid_clicks[k]]),
    ['bot_events', 'Bot impressions and playback events', today.invalid_events],
  ]
  return (
    <section class="card" aria-labelledby="invalid-title">
      <h2 id="invalid-title">Invalid traffic today</h2>
      <p class="headline">
        <span data-stat="invalid-share">{formatRate(today.invalid_share)}</span> of all traffic (
        {formatCount(invalid)} requests) was not counted.
      </p>
      <table class="numbers">
        <caption class="visually-hidden">Invalid traffic today by reason</caption>
        <thead>
          <tr>
            <th scope="col">Reason</th>
            <th scope="col">Count</th>
            <th scope="col">Share of all traffic</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([key, label, count]) => (
            <tr key={key}>
              <th scope="row">{label}</th>
              <td data-stat={`invalid-${key}`}>{formatCount(count)}</td>
              <td>{formatRate(share(count, all) ?? (today.invalid_share === null ? null : 0))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

type TopList = Overview['top']['clicks']

function TopAds({ top, titles }: { top: Overview['top']; titles: Map<string, string> }) {
  return (
    <section class="card" aria-labelledby="top-title">
      <h2 id="top-title">Top ads now</h2>
      <p class="hint">The last {TOP_WINDOW_MINUTES} minutes, this one included.</p>
      <div class="top-lists">
        <TopAdList
          name="clicks"
          title="By clicks"
          ads={top.clicks}
          titles={titles}
          value={(a) => formatCount(a.click_count)}
        />
        <TopAdList
          name="impressions"
          title="By impressions"
          ads={top.impressions}
          titles={titles}
          value={(a) => formatCount(a.impressions)}
        />
        <TopAdList
          name="ctr"
          title="By CTR"
          ads={top.ctr}
          titles={titles}
          value={(a) => formatRate(a.ctr)}
          empty={`No ad has ${CTR_MIN_IMPRESSIONS} impressions in these minutes yet.`}
        />
      </div>
    </section>
  )
}

function TopAdList(props: {
  name: string
  title: string
  ads: TopList
  titles: Map<string, string>
  value: (a: TopList[number]) => string
  empty?: string
}) {
  return (
    <div class="top-list">
      <h3>{props.title}</h3>
      {props.ads.length === 0 ? (
        <Empty>{props.empty ?? 'No traffic in these minutes.'}</Empty>
      ) : (
        <ol data-top={props.name}>
          {props.ads.map((a) => (
            <li key={a.ad_id}>
              <a href={hrefOf.ad(a.ad_id)} class="ad-link">
                {props.titles.get(a.ad_id) ?? a.ad_id}
              </a>
              <span class="num">{props.value(a)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}
