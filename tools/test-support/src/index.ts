export * from './helpers.js'
export * from './services.js'
export type { StackInfo } from './stack-info.js'
export * from './vastlint.js'
