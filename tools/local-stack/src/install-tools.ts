import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import type { Log } from './log.js'
import { runChecked, runCommand } from './run-command.js'
import { APT_PACKAGE, findOnPath, locateTool, type SystemTool, TOOL_LABEL } from './system-tools.js'
import { isRoot } from './system-user.js'

const POLICY_RC_D = '/usr/sbin/policy-rc.d'
// Debian packages of servers register a boot-time service; ours must not hold the ports the stack uses.
const SERVICE_OF_PACKAGE: Record<string, string> = {
  postgresql: 'postgresql',
  'redis-server': 'redis-server',
  nginx: 'nginx',
}

// apt holds a system-wide lock, so installs from concurrent callers in this process take turns.
let installQueue: Promise<unknown> = Promise.resolve()
let aptUpdated = false

/**
 * Makes sure every tool in `tools` is installed, installing the missing ones with apt-get when running as
 * root on Debian/Ubuntu; otherwise throws an Error naming the packages to install. Fast when all are present.
 */
export function ensureTools(tools: SystemTool[], log: Log): Promise<void> {
  const next = installQueue.then(() => installMissing(tools, log))
  installQueue = next.catch(() => undefined)
  return next
}

async function installMissing(tools: SystemTool[], log: Log): Promise<void> {
  const missing = tools.filter((tool) => !locateTool(tool))
  if (missing.length === 0) return
  const packages = [...new Set(missing.map((tool) => APT_PACKAGE[tool]))]
  const root = isRoot()
  if (!root || !findOnPath('apt-get')) throw new Error(manualInstallMessage(missing, packages, root))
  await installWithApt(packages, log)

  const stillMissing = missing.filter((tool) => !locateTool(tool))
  if (stillMissing.length > 0) {
    throw new Error(
      `apt-get installed ${packages.join(' ')} but ${stillMissing.join(', ')} still cannot be found`,
    )
  }
  log(`installed ${packages.join(' ')}`)
}

/**
 * apt-get install as root, taking turns with every other install in this process, without letting the
 * packages start their services; their boot services are disabled too. For packages that are not a
 * SystemTool (the deploy checks' pip); throws naming the packages when not root or without apt-get.
 */
export function aptInstallPackages(packages: string[], log: Log): Promise<void> {
  const next = installQueue.then(async () => {
    if (!isRoot() || !findOnPath('apt-get'))
      throw new Error(`missing ${packages.join(' ')}: sudo apt-get install -y ${packages.join(' ')}`)
    await installWithApt(packages, log)
  })
  installQueue = next.catch(() => undefined)
  return next
}

async function installWithApt(packages: string[], log: Log): Promise<void> {
  log(`installing ${packages.join(' ')} with apt-get (first run only; this can take a few minutes)`)
  await aptInstall(packages, log)
  await disableBootServices(packages, log)
}

function manualInstallMessage(missing: SystemTool[], packages: string[], isRoot: boolean): string {
  const why = isRoot ? 'apt-get is not available' : 'installing them needs root'
  return (
    `missing ${missing.map((tool) => TOOL_LABEL[tool].name).join(', ')} (${why}). Install, then try again:\n` +
    `  Debian/Ubuntu: sudo apt-get install -y --no-install-recommends ${packages.join(' ')}\n` +
    `  macOS: brew install ${missing.map((tool) => TOOL_LABEL[tool].brew).join(' ')}`
  )
}

async function aptInstall(packages: string[], log: Log): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  // Another apt-get (unattended upgrades, a second checkout's install) holds the lock: wait, not fail.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300']
  // A policy-rc.d that exits 101 tells the packages' maintainer scripts not to start their services, which
  // would otherwise grab 5432, 6379 and 80 the moment they are installed.
  const addedPolicy = !existsSync(POLICY_RC_D)
  if (addedPolicy) {
    await writeFile(POLICY_RC_D, '#!/bin/sh\n# temporary, from @adtrack/local-stack\nexit 101\n', {
      mode: 0o755,
    })
  }
  try {
    if (!aptUpdated) {
      log('apt-get update')
      await runChecked('apt-get', [...lockWait, 'update'], { env })
      aptUpdated = true
    }
    log(`apt-get install ${packages.join(' ')}`)
    await runChecked('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', ...packages], {
      env,
      onLine: (line) => {
        if (line.startsWith('Setting up ')) log(`  ${line.trim()}`)
      },
    })
  } finally {
    if (addedPolicy) await rm(POLICY_RC_D, { force: true })
  }
}

/** Best effort: a failure here only means the service may start at the next boot. */
async function disableBootServices(packages: string[], log: Log): Promise<void> {
  const systemd = existsSync('/run/systemd/system') && findOnPath('systemctl')
  for (const pkg of packages) {
    const service = SERVICE_OF_PACKAGE[pkg]
    if (!service) continue
    const result = systemd
      ? await runCommand('systemctl', ['disable', service])
      : findOnPath('update-rc.d')
        ? await runCommand('update-rc.d', [service, 'disable'])
        : undefined
    if (!result) continue
    if (result.code === 0) log(`disabled the ${service} boot service (the stack runs its own ${service})`)
    else log(`warning: could not disable the ${service} boot service: ${result.output.trim()}`)
  }
}
