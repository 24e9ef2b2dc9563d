import { accessSync, constants, existsSync, readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * Programs the stack and its tests run that come from the operating system rather than from npm or Maven
 * (Chromium: the browser test's player).
 */
export type SystemTool = 'postgres' | 'redis' | 'java' | 'maven' | 'nginx' | 'chromium' | 'openssl'

/** The Debian package that provides each tool. */
export const APT_PACKAGE: Record<SystemTool, string> = {
  postgres: 'postgresql',
  redis: 'redis-server',
  java: 'default-jre-headless',
  maven: 'maven',
  nginx: 'nginx',
  chromium: 'chromium',
  openssl: 'openssl',
}

/** How each tool is named to a person, and its Homebrew formula. */
export const TOOL_LABEL: Record<SystemTool, { name: string; brew: string }> = {
  postgres: { name: 'PostgreSQL server', brew: 'postgresql@15' },
  redis: { name: 'redis-server', brew: 'redis' },
  java: { name: 'Java', brew: 'openjdk' },
  maven: { name: 'Maven', brew: 'maven' },
  nginx: { name: 'nginx', brew: 'nginx' },
  chromium: { name: 'Chromium', brew: '--cask chromium' },
  openssl: { name: 'OpenSSL', brew: 'openssl' },
}

const POSTGRES_PROGRAMS = ['postgres', 'initdb', 'pg_isready', 'psql']

/** Where a tool is on this machine (for postgres: its bin directory), or undefined if it is missing. */
export function locateTool(tool: SystemTool): string | undefined {
  switch (tool) {
    case 'postgres':
      return locatePostgresBinDir()
    case 'redis':
      return findOnPath('redis-server')
    case 'java': {
      const fromJavaHome = process.env.JAVA_HOME && join(process.env.JAVA_HOME, 'bin', 'java')
      return fromJavaHome && isExecutable(fromJavaHome) ? fromJavaHome : findOnPath('java')
    }
    case 'maven':
      return findOnPath('mvn')
    case 'openssl':
      return findOnPath('openssl')
    case 'nginx':
      // Debian puts it in /usr/sbin, which is not on an ordinary user's PATH.
      return findOnPath('nginx') ?? (isExecutable('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined)
    case 'chromium':
      // Debian's package is `chromium`; other systems may only have Chrome or Ubuntu's `chromium-browser`.
      return ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']
        .map((program) => findOnPath(program))
        .find(Boolean)
  }
}

/** Like locateTool, but a missing tool is an error that says how to get it. */
export function toolPath(tool: SystemTool): string {
  const found = locateTool(tool)
  if (!found)
    throw new Error(`${tool} is not installed; run ensureBinaries() or install ${APT_PACKAGE[tool]}`)
  return found
}

/**
 * Debian puts the server binaries of each major version in /usr/lib/postgresql/<major>/bin, off PATH; the
 * newest major wins. Elsewhere (Homebrew, Fedora) they are on PATH.
 */
function locatePostgresBinDir(): string | undefined {
  const debianRoot = '/usr/lib/postgresql'
  const majors = existsSync(debianRoot)
    ? readdirSync(debianRoot)
        .filter((name) => /^\d+(\.\d+)?$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const candidates = [
    ...majors.map((major) => join(debianRoot, major, 'bin')),
    ...(process.env.PATH ?? '').split(delimiter),
  ]
  return candidates.find(
    (dir) => dir && POSTGRES_PROGRAMS.every((program) => isExecutable(join(dir, program))),
  )
}

export function findOnPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, program)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
