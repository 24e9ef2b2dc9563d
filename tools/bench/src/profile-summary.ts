#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof; npm run bench -- --cpu-prof): self time by function and
// by where the code comes from (a package in node_modules, node: internals, the workspace, GC/idle).
//   node tools/bench/dist/profile-summary.js bench-results/profiles/CPU.*.cpuprofile [--top 20]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Where a frame's code lives: "pkg <name>" for node_modules, "node:internal", "workspace <dir>", or the V8 pseudo-frame. */
export function origin(url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/[()]/g, '') || 'native'})`
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return `pkg ${pkg[1]}`
  if (url.startsWith('node:')) return 'node internals'
  const ws = /\/(apps|packages)\/([^/]+)\//.exec(url)
  if (ws) return `workspace ${ws[1]}/${ws[2]}`
  return url
}

export function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFunction = new Map<string, number>()
  const byOrigin = new Map<string, number>()
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame
    if (!f) continue
    const o = origin(f.url, f.functionName)
    const name = `${f.functionName || '(anonymous)'}  ${f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : ''}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + us)
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => ({ name: k, ms: us / 1000, share: us / total }))
  return {
    totalMs: total / 1000,
    top: (n: number) => ({ functions: top(byFunction, n), origins: top(byOrigin, n) }),
  }
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a))
  const topIndex = process.argv.indexOf('--top')
  const n = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 15
  for (const file of files) {
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile)
    const { functions, origins } = s.top(n)
    const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`
    process.stdout.write(`\n${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled\n  by origin:\n`)
    for (const o of origins) process.stdout.write(`    ${pct(o.share)}  ${o.name}\n`)
    process.stdout.write('  by function (self time):\n')
    for (const f of functions) process.stdout.write(`    ${pct(f.share)}  ${f.name}\n`)
  }
}
