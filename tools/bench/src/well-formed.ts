// A small well-formedness check for the XML the bench writes (its SVG chart), so that the tests can
// tell a broken file from a good one without an XML parser dependency. Not a full parser: no DTD, CDATA
// or processing instructions other than the XML declaration.

const TOKEN =
  /<!--[\s\S]*?-->|<\?xml[^>]*\?>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g
const ATTRIBUTE = /([A-Za-z_][\w:.-]*)\s*=/g

/** What is wrong with `xml` as a document (empty when nothing is). */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = []
  const open: string[] = []
  let roots = 0
  let last = 0
  const outsideText = (from: number, to: number) => {
    if (open.length === 0 && xml.slice(from, to).trim() !== '')
      problems.push(`text outside the root at ${from}`)
  }
  for (const m of xml.matchAll(TOKEN)) {
    outsideText(last, m.index)
    last = m.index + m[0].length
    const [token, closing, name, attrs, selfClosing] = m
    if (token === '<') {
      problems.push(`stray "<" at ${m.index}`)
      continue
    }
    if (token.startsWith('&')) {
      problems.push(`bare "&" at ${m.index}`)
      continue
    }
    if (name === undefined) continue // comment or declaration
    if (closing) {
      const expected = open.pop()
      if (expected !== name) problems.push(`</${name}> at ${m.index} closes <${expected ?? 'nothing'}>`)
      continue
    }
    const seen = new Set<string>()
    for (const a of (attrs ?? '').matchAll(ATTRIBUTE)) {
      if (seen.has(a[1] as string)) problems.push(`<${name}> at ${m.index} repeats attribute ${a[1]}`)
      seen.add(a[1] as string)
    }
    if (open.length === 0) roots++
    if (!selfClosing) open.push(name)
  }
  outsideText(last, xml.length)
  if (open.length > 0) problems.push(`unclosed: ${open.join(' > ')}`)
  if (roots !== 1) problems.push(`${roots} root elements`)
  return problems
}
