import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { generateApiDocs, REGENERATE_COMMAND, repoRoot, staleApiDocs } from './generate.js'

// `node tools/api-docs/dist/cli.js` writes the API descriptions; with --check it only says whether
// the committed ones match the code (exit code 1 if not).
const files = await generateApiDocs()
if (process.argv.includes('--check')) {
  const stale = await staleApiDocs(files)
  if (stale.length > 0) {
    process.stderr.write(`out of date: ${stale.join(', ')}\nrun \`${REGENERATE_COMMAND}\` to regenerate\n`)
    process.exit(1)
  }
  process.stdout.write('API descriptions are up to date\n')
} else {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(repoRoot, path)), { recursive: true })
    await writeFile(join(repoRoot, path), content)
    process.stdout.write(`wrote ${path}\n`)
  }
}
