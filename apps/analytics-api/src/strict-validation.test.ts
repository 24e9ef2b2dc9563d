import { AdCreate, AdParams, AdPatch } from '@adtrack/contracts'
import type { FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { describe, expect, it } from 'vitest'
import { strictValidatorCompiler } from './strict-validation.js'

function validate(schema: TSchema, value: unknown) {
  const fn = strictValidatorCompiler({ schema, method: 'POST', url: '/ads', httpPart: 'body' })
  return fn(value) as { value?: unknown; error?: FastifySchemaValidationError[] }
}
const problem = (schema: TSchema, value: unknown) => {
  const { error } = validate(schema, value)
  return error && `${error[0]?.instancePath} ${error[0]?.message}`
}

const ad = {
  title: 'Winter sale',
  image_url: 'https://example.com/a.jpg',
  target_url: 'http://example.com/a',
}

describe('strictValidatorCompiler', () => {
  it('passes a valid value through unchanged, without filling in defaults', () => {
    expect(validate(AdCreate, ad)).toEqual({ value: ad })
  })

  it('does not coerce types', () => {
    expect(problem(AdCreate, { ...ad, id: 42 })).toBe('/id must be string')
    expect(problem(AdCreate, { ...ad, title: 5 })).toBe('/title must be string')
    expect(problem(AdCreate, { ...ad, status: true })).toBe('/status must be one of "active", "paused"')
    expect(problem(AdCreate, null)).toBe(' must be object')
  })

  it('refuses unknown properties by name instead of dropping them', () => {
    expect(problem(AdCreate, { ...ad, budget: 10 })).toBe('/budget is not an allowed property')
    expect(problem(AdPatch, { id: 'other' })).toBe('/id is not an allowed property')
  })

  it('says what a URL or a title must be', () => {
    expect(problem(AdCreate, { ...ad, target_url: 'javascript:alert(1)' })).toBe(
      '/target_url must be an absolute http:// or https:// URL, without spaces, control characters or invalid Unicode',
    )
    expect(problem(AdCreate, { ...ad, title: '   ' })).toBe(
      '/title must contain a character other than a space, and no control characters or invalid Unicode',
    )
  })

  it('names missing properties and an empty patch', () => {
    expect(problem(AdCreate, { title: 'x' })).toMatch(/must have required properties image_url/)
    expect(problem(AdPatch, {})).toBe(' must have at least 1 property')
  })

  it('validates params as they come, strings', () => {
    expect(validate(AdParams, { id: 'ad-1' })).toEqual({ value: { id: 'ad-1' } })
    expect(problem(AdParams, { id: 'not valid' })).toMatch(/^\/id must match pattern/)
  })
})

describe('HttpUrl (through AdCreate)', () => {
  it.each([
    'http://example.com',
    'https://example.com/path?q=1#top',
    'https://cdn.example.com:8443/img/a.jpg',
  ])('accepts %s', (url) => {
    expect(validate(AdCreate, { ...ad, image_url: url }).error).toBeUndefined()
  })

  it.each([
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'ftp://example.com/a.jpg',
    'file:///etc/passwd',
    '//example.com/a.jpg',
    '/relative/a.jpg',
    'https://',
    'https:// example.com',
    'http://exa mple.com/',
  ])('refuses %s', (url) => {
    expect(problem(AdCreate, { ...ad, image_url: url })).toBe(
      '/image_url must be an absolute http:// or https:// URL, without spaces, control characters or invalid Unicode',
    )
  })

  it('refuses a URL over 2048 characters', () => {
    expect(problem(AdCreate, { ...ad, image_url: `https://example.com/${'a'.repeat(2048)}` })).toBe(
      '/image_url must not have more than 2048 characters',
    )
  })
})

describe('a nullable object (media)', () => {
  const media = {
    url: 'https://e.com/v.mp4',
    type: 'video/mp4',
    width: 640,
    height: 360,
    duration_seconds: 15,
  }

  it('accepts the object and null', () => {
    expect(validate(AdCreate, { ...ad, media }).error).toBeUndefined()
    expect(validate(AdCreate, { ...ad, media: null }).error).toBeUndefined()
  })

  it('names the field inside the object, not the union', () => {
    expect(problem(AdCreate, { ...ad, media: { ...media, width: 0 } })).toBe('/media/width must be >= 1')
    expect(problem(AdCreate, { ...ad, media: { ...media, type: 'video/ogg' } })).toBe(
      '/media/type must be one of "video/mp4", "video/webm"',
    )
  })

  it('says which types the union takes when the value has neither', () => {
    expect(problem(AdCreate, { ...ad, media: 'x' })).toBe('/media must be object or null')
  })
})
