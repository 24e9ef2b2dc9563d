export { ensureBinaries } from './ensure-binaries.js'
export { type GatewayOptions, type GatewayServer, startGateway } from './gateway.js'
export { GATEWAY_TEMPLATE, type GatewayVariables, renderNginxTemplate } from './gateway-config.js'
export { aptInstallPackages, ensureTools } from './install-tools.js'
export { type KafkaOptions, startKafka } from './kafka.js'
export { LOCAL_KAFKA_SCRAM } from './kafka-config.js'
export type { Log } from './log.js'
export { freePort } from './ports.js'
export { type PostgresOptions, startPostgres } from './postgres.js'
export { type RedisOptions, startRedis } from './redis.js'
export { type RunOptions, type RunResult, runChecked, runCommand } from './run-command.js'
export {
  freeStackPorts,
  STACK_TLS_FILE,
  type Stack,
  type StackOptions,
  type StackPorts,
  type StackTls,
  startStack,
} from './stack.js'
export {
  type StartedProcess,
  type StartProcessOptions,
  type StoppedProcess,
  startProcess,
  waitUntilReady,
} from './started-process.js'
export { type SystemTool, toolPath } from './system-tools.js'
export type { KafkaServer, ManagedProcess, PostgresServer, ProcessExit, RedisServer } from './types.js'
