import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import {
  AdCreate,
  ClickMessage,
  ClickRequest,
  cleanHeaderText,
  FREE_TEXT_PATTERN,
  FreeText,
  HTTP_URL_PATTERN,
  NON_BLANK_TEXT_PATTERN,
  publishedPattern,
} from './index.js'

// The same rule must hold in both validators the services use: TypeBox's Compile (batch items, admin
// bodies, the worker's decode) and Fastify's Ajv, which builds a pattern as a `u` RegExp (the apps'
// tests check it through their routes).
const text = Compile(FreeText())
const validators = {
  typebox: (value: string) => text.Check(value),
  'a u RegExp': (value: string) => new RegExp(FREE_TEXT_PATTERN, 'u').test(value),
}

describe.each(Object.entries(validators))('free text, by %s', (_name, check) => {
  it.each([
    ['NUL', '\u0000'],
    ['U+0008 (before tab)', 'a\u0008'],
    ['line feed U+000A (after tab)', 'a\nb'],
    ['U+001F', '\u001F'],
    ['DEL U+007F', 'x\u007F'],
    ['C1 U+0080', '\u0080'],
    ['NEL U+0085', 'a\u0085b'],
    ['C1 U+009F', '\u009F'],
    ['a lone high surrogate', 'viewer\uD800'],
    ['a lone low surrogate', '\uDC00viewer'],
    ['swapped halves of a pair', '\uDE00\uD83D'],
  ])('refuses %s', (_what, value) => {
    expect(check(value)).toBe(false)
  })

  it.each([
    ['plain text', 'viewer-42'],
    ['tab U+0009', 'a\tb'],
    ['space U+0020 and U+007E', ' ~'],
    ['U+00A0 (after C1)', '\u00A0caf\u00E9'],
    ['an emoji (a surrogate pair)', 'fan \uD83D\uDE00'],
    ['other astral text', '\u{20BB7}\u{1F680}'],
    ['the empty string', ''],
  ])('accepts %s', (_what, value) => {
    expect(check(value)).toBe(true)
  })
})

describe('the published patterns', () => {
  it.each([FREE_TEXT_PATTERN, NON_BLANK_TEXT_PATTERN, HTTP_URL_PATTERN])(
    '%s is published without the surrogate range, and still refuses every control character',
    (pattern) => {
      const published = publishedPattern(pattern)
      expect(published).not.toMatch(/\\uD[89A-F]/i)
      const regexp = new RegExp(published, 'u')
      for (const control of ['\u0000', '\u0008', '\n', '\u001F', '\u007F', '\u0085', '\u009F']) {
        expect(regexp.test(`https://x.example/a${control}b`), JSON.stringify(control)).toBe(false)
      }
      expect(regexp.test('https://x.example/\uD83D\uDE00')).toBe(true)
    },
  )
})

describe('the composed patterns', () => {
  const title = new RegExp(NON_BLANK_TEXT_PATTERN, 'u')
  const url = new RegExp(HTTP_URL_PATTERN, 'u')

  it('a title needs a non-space and no forbidden character', () => {
    expect(title.test('Winter sale')).toBe(true)
    expect(title.test('  \tx  ')).toBe(true)
    expect(title.test('\uD83C\uDF84')).toBe(true)
    expect(title.test(' \t\u00A0 ')).toBe(false)
    expect(title.test('Winter\u0000sale')).toBe(false)
    expect(title.test('Winter\nsale')).toBe(false)
    expect(title.test('sale\uDBFF')).toBe(false)
  })

  it('a URL may hold neither a control character (U+0001, NEL) nor a lone surrogate', () => {
    expect(url.test('https://example.com/a?b=c#d')).toBe(true)
    expect(url.test('https://example.com/\u0001')).toBe(false)
    expect(url.test('https://example.com/\u0085')).toBe(false)
    expect(url.test('https://exa\u0085mple.com/')).toBe(false)
    expect(url.test('https://example.com/\uD800')).toBe(false)
  })

  it('stays fast on a long refused title (no quadratic backtracking)', () => {
    const started = performance.now()
    expect(title.test(`${'a'.repeat(50_000)}\u0000`)).toBe(false)
    expect(title.test(`${' '.repeat(50_000)}\u0000`)).toBe(false)
    expect(performance.now() - started).toBeLessThan(200)
  })
})

describe('contracts using the rule', () => {
  it('ClickRequest refuses a viewer_id with NUL or a lone surrogate', () => {
    const click = Compile(ClickRequest)
    expect(click.Check({ ad_id: '1', playback_time: 1, viewer_id: 'v\u0000' })).toBe(false)
    expect(click.Check({ ad_id: '1', playback_time: 1, viewer_id: JSON.parse('"v\\ud800"') })).toBe(false)
    expect(click.Check({ ad_id: '1', playback_time: 1, viewer_id: 'v\uD83D\uDE00' })).toBe(true)
  })

  it('ClickMessage refuses control characters in ip, user_agent and viewer_id', () => {
    const message = Compile(ClickMessage)
    const valid = {
      v: 1,
      click_id: 'c5b0e6a2-4a7e-4b7a-9f51-2d3c1a1e7f00',
      ad_id: '1',
      playback_time: 30,
      received_at: '2026-11-25T12:00:00.000Z',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0',
    }
    expect(message.Check(valid)).toBe(true)
    expect(message.Check({ ...valid, ip: '203.0.113.7\u0085' })).toBe(false)
    expect(message.Check({ ...valid, user_agent: 'Mozilla\u0000' })).toBe(false)
    expect(message.Check({ ...valid, viewer_id: '\uDC00' })).toBe(false)
  })

  it('AdCreate refuses a NUL title and a URL with U+0001', () => {
    const create = Compile(AdCreate)
    const valid = { title: 'Sale', image_url: 'https://e.com/i.jpg', target_url: 'https://e.com/' }
    expect(create.Check(valid)).toBe(true)
    expect(create.Check({ ...valid, title: 'Sa\u0000le' })).toBe(false)
    expect(create.Check({ ...valid, target_url: 'https://e.com/\u0001' })).toBe(false)
  })
})

describe('cleanHeaderText', () => {
  it('removes the forbidden characters, keeps tab and the rest, then cuts to the length', () => {
    expect(cleanHeaderText('Mozilla/5.0\u0085 (X11;\u0000 Linux)\u009F\u007F', 512)).toBe(
      'Mozilla/5.0 (X11; Linux)',
    )
    expect(cleanHeaderText('a\tb\u00E9', 512)).toBe('a\tb\u00E9')
    expect(cleanHeaderText(`\u0001${'x'.repeat(600)}`, 512)).toBe('x'.repeat(512))
  })

  it('never leaves half a surrogate pair at the cut', () => {
    expect(cleanHeaderText('ab\uD83D\uDE00', 3)).toBe('ab')
    expect(cleanHeaderText('a\uD800b', 10)).toBe('ab')
  })
})
