import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readRuleGroups, ruleFiles, runbooksFile } from './observability.js'
import { repoRoot } from './paths.js'

// Every alert links to its runbook: a `runbook_url` annotation naming its own section of docs/runbooks.md,
// and that section says what the alert means, what to check first and how to fix it. No section is
// left without its alert.

/** GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation dropped. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replaceAll(/[^\w\- ]/g, '')
    .replaceAll(' ', '-')

async function runbookSections(): Promise<Map<string, string>> {
  const text = await readFile(runbooksFile, 'utf8')
  const sections = new Map<string, string>()
  const parts = text.split(/^## /m).slice(1)
  for (const part of parts) {
    const [heading = '', ...body] = part.split('\n')
    sections.set(anchor(heading), body.join('\n'))
  }
  return sections
}

describe('runbooks', () => {
  it('every alert has a runbook_url to its own section of docs/runbooks.md, with what it means, first checks and fixes', async () => {
    const groups = await readRuleGroups(await ruleFiles())
    const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert)
    expect(alerts.length).toBeGreaterThan(10)
    const sections = await runbookSections()
    const target = relative(repoRoot, runbooksFile)
    for (const rule of alerts) {
      const alert = rule.alert as string
      expect(rule.annotations?.runbook_url, alert).toBe(`${target}#${anchor(alert)}`)
      const body = sections.get(anchor(alert))
      expect(body, `docs/runbooks.md has no "## ${alert}"`).toBeDefined()
      for (const part of ['**What it means.**', '**First checks.**', '**Fixes.**'])
        expect(body, `${alert}: ${part}`).toContain(part)
    }
    const named = new Set(alerts.map((r) => anchor(r.alert as string)))
    expect(
      [...sections.keys()].filter((s) => !named.has(s)),
      'sections without an alert',
    ).toEqual([])
  })

  it('every link inside docs/runbooks.md to one of its own sections resolves', async () => {
    const text = await readFile(runbooksFile, 'utf8')
    const sections = await runbookSections()
    for (const [, link] of text.matchAll(/\]\(#([\w-]+)\)/g))
      expect(sections.has(link as string), link).toBe(true)
  })
})
