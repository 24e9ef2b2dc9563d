import { ensureTools } from './install-tools.js'
import { ensureKafkaClasspath } from './kafka-classpath.js'
import { type Log, stderrLog } from './log.js'
import type { SystemTool } from './system-tools.js'

/**
 * Makes sure everything the stack runs is on this machine: PostgreSQL, Redis, Java and openssl (the TLS
 * listeners' certificates) from the OS
 * (installed with apt-get when root on Debian/Ubuntu), and Kafka's jars from Maven Central (Maven itself is
 * installed the same way, only when the jars have not been resolved yet). Idempotent, and fast once
 * everything is there. `extra` tools (npm start's nginx) are installed in the same apt-get run.
 */
export async function ensureBinaries(log: Log = stderrLog, extra: SystemTool[] = []): Promise<void> {
  await ensureTools(['postgres', 'redis', 'java', 'openssl', ...extra], log)
  await ensureKafkaClasspath(log)
}
