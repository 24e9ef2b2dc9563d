import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { lastLines, tailFile } from './log-tail.js'

describe('lastLines', () => {
  it('returns the last non-blank lines, whatever the line endings', () => {
    expect(lastLines('a\r\nb\n\n  \nc\nd\n', 3)).toEqual(['b', 'c', 'd'])
  })
})

describe('tailFile', () => {
  it('shows only what was written after the offset, so an older run does not show up', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'tail-')), 'server.log')
    const earlierRun = 'old failure\n'
    await writeFile(file, `${earlierRun}new line 1\nnew line 2\n`)
    expect(await tailFile(file, 20, Buffer.byteLength(earlierRun))).toEqual(['new line 1', 'new line 2'])
  })

  it('is empty for a file that does not exist', async () => {
    expect(await tailFile('/nonexistent/x.log', 5)).toEqual([])
  })
})
