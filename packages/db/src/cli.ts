#!/usr/bin/env node
// `node packages/db/dist/cli.js migrate|seed|setup` with DATABASE_URL set (the old variable name).
import { DEFAULT_DATABASE_URL } from '@adtrack/contracts'
import { createSql, type Sql } from './client.js'
import { migrate } from './migrate.js'
import { giveDemoAdsMedia, seedDemoAds } from './seed.js'

const command = process.argv[2]
const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
const log = (msg: string) => process.stderr.write(`[db] ${msg}\n`)

if (!command || !['migrate', 'seed', 'setup'].includes(command)) {
  log('usage: cli.js migrate | seed | setup   (setup = migrate then seed; reads DATABASE_URL)')
  process.exit(2)
}

// DATABASE_PASSWORD as the services read it: a URL without a password, the password from a Secret key.
let sql: Sql
try {
  sql = createSql(url, {
    max: 1,
    applicationName: 'ad-tracking-migrate',
    password: process.env.DATABASE_PASSWORD ?? '',
  })
} catch (err) {
  log(`error: ${(err as Error).message}`)
  process.exit(1)
}
try {
  if (command === 'migrate' || command === 'setup') {
    const applied = await migrate(sql, log)
    log(applied.length ? `applied ${applied.length} migration(s)` : 'schema is up to date')
  }
  if (command === 'seed' || command === 'setup') {
    const inserted = await seedDemoAds(sql)
    log(inserted ? `inserted ${inserted} demo ads (ids 1-10)` : 'ads table not empty; demo ads not inserted')
    const given = await giveDemoAdsMedia(sql)
    if (given) log(`gave ${given} demo ad(s) the demo video (they were seeded before ads carried media)`)
  }
} catch (err) {
  log(`error: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  await sql.end({ timeout: 5 })
}
