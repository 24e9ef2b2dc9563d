import { ensureTools } from './install-tools.js'
import { ensureKafkaClasspath } from './kafka-classpath.js'
import { type Log, stderrLog } from './log.js'

/**
 * Makes sure everything the stack runs is on this machine: PostgreSQL, Redis and Java from the OS
 * (installed with apt-get when root on Debian/Ubuntu), and Kafka's jars from Maven Central (Maven itself is
 * installed the same way, only when the jars have not been resolved yet). Idempotent, and fast once
 * everything is there.
 */
export async function ensureBinaries(log: Log = stderrLog): Promise<void> {
  await ensureTools(['postgres', 'redis', 'java'], log)
  await ensureKafkaClasspath(log)
}
