/** One line of the benchmark's table: a measured figure next to its same-run baseline and the target. */
export interface Row {
  measure: string
  result: string
  baseline: string
  ratio: string
  target: string
  met: 'yes' | 'no' | '-'
}

export function markdownTable(rows: Row[]): string {
  const head: (keyof Row)[] = ['measure', 'result', 'baseline', 'ratio', 'target', 'met']
  const cells = [head.map(String), ...rows.map((r) => head.map((k) => r[k]))]
  const widths = head.map((_, i) => Math.max(...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(widths[i] as number)).join(' | ')} |`
  return [
    line(cells[0] as string[]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n')
}

export const fmt = {
  rate: (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`,
  ms: (n: number) => (n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`),
  ratio: (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-'),
  mib: (n: number | undefined) => (n === undefined ? '?' : `${Math.round(n)} MiB`),
}
