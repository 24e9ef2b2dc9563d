export { type LoadOptions, loadDefaults, parseDurationMs, parseLoadArgs, USAGE, UsageError } from './args.js'
export { Histogram } from './histogram.js'
export {
  DEMO_ADS,
  fetchAdIds,
  formatProgress,
  formatSummary,
  type LoadHooks,
  type LoadSummary,
  type Progress,
  runLoad,
} from './loadgen.js'
export { mulberry32, ZipfSampler } from './random.js'
export { requestLatency, SendSchedule } from './schedule.js'
export { type Click, Traffic } from './traffic.js'
