import { noPlaybackEvents } from '@adtrack/contracts'

/**
 * What a reply shows for a span without any tracking event (a bucket, or an ad's totals): the tests'
 * expectation, written out, never taken from the code under test (video-figures.ts).
 */
export const noVideoFigures = () => ({
  impressions: 0,
  ctr: null,
  completion_rate: null,
  events: noPlaybackEvents(),
  errors: {},
})

/** An ad's totals without events: the video figures, and no impression viewers or invalid events. */
export const noEventTotals = () => ({
  ...noVideoFigures(),
  unique_impression_viewers: 0,
  invalid_event_count: 0,
})
