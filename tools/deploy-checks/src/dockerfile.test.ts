import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { deployDir, repoRoot } from './paths.js'
import { run } from './run.js'

// deploy/Dockerfile cannot be built here (no Docker engine), so it is held to deploy/build-service.sh,
// which the images test runs for real: every build step of the Dockerfile must be a build-service.sh
// phase, in the order `build-service.sh all` runs them, with the same copies in between.

interface Instruction {
  keyword: string
  args: string
  stage: string
}

function parseDockerfile(text: string): Instruction[] {
  const lines = text.replaceAll(/\\\n/g, ' ').split('\n')
  const out: Instruction[] = []
  let stage = ''
  for (const raw of lines) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [keyword = '', ...rest] = line.split(/\s+/)
    const args = rest.join(' ')
    if (keyword.toUpperCase() === 'FROM') stage = /\sAS\s+(\S+)/i.exec(line)?.[1] ?? ''
    out.push({ keyword: keyword.toUpperCase(), args, stage })
  }
  return out
}

const dockerfile = async () => parseDockerfile(await readFile(join(deployDir, 'Dockerfile'), 'utf8'))
const script = () => readFile(join(deployDir, 'build-service.sh'), 'utf8')

describe('deploy/Dockerfile', () => {
  it('builds on the Node version the bootstrap provides, slim, pinned by digest, in every stage', async () => {
    const bootstrap = await readFile(join(repoRoot, 'scripts/bootstrap.mjs'), 'utf8')
    const nodeVersion = /const NODE_VERSION = '([\d.]+)'/.exec(bootstrap)?.[1]
    const instructions = await dockerfile()
    const arg = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_VERSION='))
    expect(arg?.args).toBe(`NODE_VERSION=${nodeVersion}`)
    const froms = instructions.filter((i) => i.keyword === 'FROM' && !i.args.startsWith('toolchain'))
    // The digest itself is held to deploy/third-party-images.yaml by third-party-images.test.ts.
    for (const from of froms)
      expect(from.args).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim@\$\{NODE_DIGEST\} AS /)
  })

  it("runs the build as build-service.sh's phases, in the order and with the copies of `all`", async () => {
    const instructions = await dockerfile()
    // The Dockerfile's build stages, as a sequence of phases and copies.
    const steps = instructions
      .filter((i) => ['toolchain', 'pruned', 'built'].includes(i.stage))
      .flatMap((i) => {
        if (i.keyword === 'RUN') {
          const phases = [...i.args.matchAll(/build-service (\w+)/g)].map((m) => m[1])
          expect(phases.length, `RUN ${i.args} must call build-service`).toBeGreaterThan(0)
          return phases.map((p) => `phase ${p}`)
        }
        if (i.keyword === 'COPY' && i.args.includes('--from=pruned')) {
          const part = /\/pruned\/(json|full)\//.exec(i.args)?.[1]
          return [`copy ${part}`]
        }
        return []
      })
    expect(steps).toEqual([
      'phase tools',
      'phase prune',
      'copy json',
      'phase install',
      'copy full',
      'phase build',
      'phase deploy',
    ])
    // `all` in build-service.sh: the same sequence (without tools, which CI has already).
    const body = /^all\(\) \{[^\n]*\n([\s\S]*?)^\}/m.exec(await script())?.[1] ?? ''
    const allSteps = body
      .split('\n')
      .map((l) => l.trim())
      .flatMap((l) => {
        const copy = /^cp -R "\$tmp\/pruned\/(json|full)\/\." "\$tmp\/work\/"$/.exec(l)
        if (copy) return [`copy ${copy[1]}`]
        const phase = /^(prune|install|build|deploy) /.exec(l)
        return phase ? [`phase ${phase[1]}`] : []
      })
    expect(allSteps).toEqual(steps.slice(1))
  })

  it('runs one service per image, as a non-root user, under tini, with a health check and OCI labels', async () => {
    const instructions = await dockerfile()
    const final = instructions.filter((i) => i.stage === 'runtime')
    expect(instructions.at(-1)?.stage, 'the last stage is the default target').toBe('runtime')
    const user = final.find((i) => i.keyword === 'USER')?.args ?? ''
    expect(user).toMatch(/^\d+:\d+$/)
    expect(Number(user.split(':')[0])).toBeGreaterThan(0)
    expect(final.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["/usr/bin/tini", "--"]')
    expect(final.find((i) => i.keyword === 'CMD')?.args).toBe('["node", "dist/server.js"]')
    expect(final.find((i) => i.keyword === 'HEALTHCHECK')?.args).toMatch(/CMD \["healthcheck"\]$/)
    expect(
      final.some(
        (i) =>
          i.keyword === 'COPY' && /deploy\/healthcheck\.mjs \/usr\/local\/bin\/healthcheck$/.test(i.args),
      ),
    ).toBe(true)
    expect(final.some((i) => i.keyword === 'COPY' && i.args === '--from=built /out /app')).toBe(true)
    const labels = final
      .filter((i) => i.keyword === 'LABEL')
      .flatMap((i) => [...i.args.matchAll(/(org\.opencontainers\.image\.[\w.]+)=/g)].map((m) => m[1]))
    for (const label of ['title', 'description', 'version', 'revision', 'created', 'source', 'licenses'])
      expect(labels).toContain(`org.opencontainers.image.${label}`)
  })

  it('builds from sources only: dependencies and build output stay out of the context', async () => {
    const ignore = (await readFile(join(deployDir, 'Dockerfile.dockerignore'), 'utf8')).split('\n')
    for (const entry of ['**/node_modules', '**/dist', '.git', '.data']) expect(ignore).toContain(entry)
  })

  it('sets the NODE_OPTIONS that the bench measures the services with', async () => {
    const env = (await dockerfile()).filter((i) => i.keyword === 'ENV' && i.stage === 'runtime')
    const set = env.map((i) => /NODE_OPTIONS="([^"]*)"/.exec(i.args)?.[1]).find((v) => v !== undefined)
    const bench = await readFile(join(repoRoot, 'tools/bench/src/node-options.ts'), 'utf8')
    const measured = /SERVICE_NODE_OPTIONS = '([^']*)'/.exec(bench)?.[1]
    expect(measured).toBeTruthy()
    expect(set).toBe(measured)
  })
})

describe('deploy/build-service.sh', () => {
  it('is valid POSIX shell', async () => {
    const result = await run('sh', ['-n', join(deployDir, 'build-service.sh')])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('pins the pnpm of package.json and the turbo of the lockfile for the image', async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8'))
    const lock = await readFile(join(repoRoot, 'pnpm-lock.yaml'), 'utf8')
    const turbo =
      /^ {2}\.:\n(?:^ {4}.*\n|^\s*\n)*?^ {6}turbo:\n^ {8}specifier: .*\n^ {8}version: (\S+)/m.exec(lock)?.[1]
    const result = await run('sh', [join(deployDir, 'build-service.sh'), 'versions', repoRoot])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(`${pkg.packageManager} turbo@${turbo}`)
  })
})
