export { DEMO_ADS, fetchAdIds } from './ads.js'
export { type LoadOptions, loadDefaults, parseDurationMs, parseLoadArgs, USAGE, UsageError } from './args.js'
export { Histogram } from './histogram.js'
export { type LoadHooks, runLoad } from './loadgen.js'
export { mulberry32, ZipfSampler } from './random.js'
export { requestLatency, SendSchedule } from './schedule.js'
export {
  formatProgress,
  formatSummary,
  type LoadSummary,
  type Progress,
  type VastCounts,
  type VastEventCounts,
} from './summary.js'
export { type Click, Traffic } from './traffic.js'
export { DEFAULT_MIX, FUNNEL, planImpression } from './vast-plan.js'
