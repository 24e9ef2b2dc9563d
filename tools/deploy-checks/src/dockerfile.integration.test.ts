import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { deployDir } from './paths.js'
import { runChecked } from './run.js'
import { ensureDeployLint } from './tools.js'

// deploy/Dockerfile through BuildKit's own parser and linter (what `docker build` runs before anything
// else), so a syntax error, a bad flag or a linted mistake fails here rather than on the first machine
// with Docker. dockerfile.test.ts holds its build steps to build-service.sh, which images.integration.test
// runs for real.

interface Parsed {
  args: string[]
  stages: { name: string; base: string; commands: { name: string; code: string; line: number }[] }[]
  warnings: string[]
}

describe('deploy/Dockerfile, as BuildKit reads it', () => {
  it(
    'parses, with no lint warnings, into toolchain, pruned, built and the runtime image last',
    async () => {
      const lint = await ensureDeployLint()
      const parsed = JSON.parse(
        await runChecked(lint, ['dockerfile', join(deployDir, 'Dockerfile')]),
      ) as Parsed
      expect(parsed.warnings).toEqual([])
      expect(parsed.args).toEqual(['NODE_VERSION', 'NODE_DIGEST', 'SERVICE'])
      // `node:` + the NODE_VERSION build argument (unexpanded) + `-bookworm-slim@` + the NODE_DIGEST one.
      const node = ['node:$', '{NODE_VERSION}-bookworm-slim@$', '{NODE_DIGEST}'].join('')
      expect(parsed.stages.map((s) => [s.name, s.base])).toEqual([
        ['toolchain', node],
        ['pruned', 'toolchain'],
        ['built', 'toolchain'],
        ['runtime', node],
      ])
      // The runtime image gets nothing from the build stages but the service's directory.
      const runtime = parsed.stages.at(-1)?.commands ?? []
      const fromOtherStages = runtime.filter((c) => c.name === 'COPY' && c.code.includes('--from='))
      expect(fromOtherStages.map((c) => c.code)).toEqual(['COPY --from=built /out /app'])
    },
    15 * 60_000,
  )
})
