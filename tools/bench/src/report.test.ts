import { describe, expect, it } from 'vitest'
import { fmt, markdownTable } from './report.js'

describe('markdownTable', () => {
  it('pads every column to its widest cell', () => {
    const table = markdownTable([
      { measure: 'a', result: '1/s', baseline: 'bare 2/s', ratio: '0.50', target: '>= 0.5', met: 'yes' },
    ])
    expect(table.split('\n')).toEqual([
      '| measure | result | baseline | ratio | target | met |',
      '|---------|--------|----------|-------|--------|-----|',
      '| a       | 1/s    | bare 2/s | 0.50  | >= 0.5 | yes |',
    ])
  })
})

describe('fmt', () => {
  it('formats rates, times, ratios and sizes', () => {
    expect(fmt.rate(12345.6)).toBe('12,346/s')
    expect(fmt.ms(2.04)).toBe('2.0 ms')
    expect(fmt.ms(1234.5)).toBe('1235 ms')
    expect(fmt.ratio(1, 4)).toBe('0.25')
    expect(fmt.ratio(1, 0)).toBe('-')
    expect(fmt.mib(undefined)).toBe('?')
    expect(fmt.mib(99.6)).toBe('100 MiB')
  })
})
