#!/usr/bin/env node
// `npm run api-docs` regenerates, from the code, the committed API descriptions: openapi/ingest-api.json,
// openapi/analytics-api.json (OpenAPI 3.1) and openapi/ad-tracking.postman_collection.json.
// `npm run api-docs -- --check` only says whether they are up to date (exit code 1 if not); the unit
// tests check the same.
//
// It installs and builds the workspace first (scripts/bootstrap.mjs setup, quick when nothing changed),
// since the descriptions come from the built apps.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

function run(args) {
  const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root })
  if (res.status !== 0) process.exit(res.status ?? 1)
}

run([join(root, 'scripts/bootstrap.mjs'), 'setup'])
run([join(root, 'tools/api-docs/dist/cli.js'), ...process.argv.slice(2)])
