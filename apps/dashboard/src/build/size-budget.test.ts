import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkScriptBudget } from './size-budget.js'

describe('the dashboard script budget', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adtrack-budget-'))
  })
  afterEach(() => rm(dir, { recursive: true, force: true }))

  it('sums the gzipped size of every .js file, and ignores the others', async () => {
    // Random bytes do not compress: each file weighs about its own size gzipped.
    await writeFile(join(dir, 'a.js'), randomBytes(3000))
    await writeFile(join(dir, 'b.js'), randomBytes(2000))
    await writeFile(join(dir, 'style.css'), randomBytes(50_000))
    const total = await checkScriptBudget(dir, 10_000)
    expect(total).toBeGreaterThan(5000)
    expect(total).toBeLessThan(5200)
  })

  it('fails above the budget, naming each file', async () => {
    await writeFile(join(dir, 'index-abc.js'), randomBytes(6000))
    await writeFile(join(dir, 'chart-def.js'), randomBytes(6000))
    await expect(checkScriptBudget(dir, 10_000)).rejects.toThrow(
      /over the 10000 B budget: chart-def\.js \d+ B, index-abc\.js/,
    )
  })

  it('lets well-compressing code through: the budget is gzipped bytes, not bytes on disk', async () => {
    await writeFile(join(dir, 'index.js'), 'export const x = 1;\n'.repeat(5000))
    expect(await checkScriptBudget(dir, 10_000)).toBeLessThan(1000)
  })
})
