import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (this file is tools/deploy-checks/{src,dist}/paths.*). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')
export const deployDir = join(repoRoot, 'deploy')
export const k8sDir = join(deployDir, 'k8s')
export const observabilityDir = join(deployDir, 'observability')
export const composeFile = join(repoRoot, 'docker-compose.yml')
/** Source of the Go helper (compose-go and Prometheus's own parsers). */
export const goHelperDir = join(repoRoot, 'tools/deploy-checks/go')
/** The Maven project that resolves Strimzi's model classes and CRD generator. */
export const strimziPom = join(repoRoot, 'tools/deploy-checks/strimzi/pom.xml')

/**
 * Tools and schemas the checks install, per user and outside the checkout, next to the bootstrap's Node
 * and pnpm (~/.cache/ad-tracking), so that a fresh clone reuses them.
 */
export const toolsCacheDir = join(
  process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
  'ad-tracking',
  'deploy-tools',
)

export const SERVICES = ['ingest-api', 'click-worker', 'analytics-api'] as const
export type ServiceName = (typeof SERVICES)[number]
