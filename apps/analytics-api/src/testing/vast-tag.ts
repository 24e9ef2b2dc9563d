import { DOMParser, type Document, type Element, onErrorStopParsing } from '@xmldom/xmldom'
import { VAST_NAMESPACE } from '../vast-xml.js'

// Reads a served VAST tag as a player's XML parser would, for the tests: a real parser (xmldom) that
// stops at any error, so a tag that is not well-formed fails the test instead of being read leniently.

export function parseVast(xml: string): Document {
  return new DOMParser({ onError: onErrorStopParsing }).parseFromString(xml, 'application/xml')
}

/** The VAST elements named so, in document order (namespace-aware: unqualified names do not count). */
export function vastElements(doc: Document, name: string): Element[] {
  return Array.from(doc.getElementsByTagNameNS(VAST_NAMESPACE, name))
}

export function vastElement(doc: Document, name: string): Element {
  const [element, ...more] = vastElements(doc, name)
  if (!element || more.length > 0)
    throw new Error(`expected one <${name}>, found ${more.length + (element ? 1 : 0)}`)
  return element
}

/** The names of an element's child elements, in order. */
export function childNames(element: Element): string[] {
  return Array.from(element.childNodes).flatMap((node) =>
    node.nodeType === node.ELEMENT_NODE ? [(node as Element).localName ?? ''] : [],
  )
}

/** Every URL the tag gives a player to call: what it is (element, and event for <Tracking>) and the URL. */
export function tagUrls(doc: Document): { what: string; url: string }[] {
  const urls: { what: string; url: string }[] = []
  for (const name of ['Error', 'Impression', 'Tracking', 'ClickTracking', 'ClickThrough']) {
    for (const element of vastElements(doc, name)) {
      const event = element.getAttribute('event')
      urls.push({ what: event ? `${name}:${event}` : name, url: (element.textContent ?? '').trim() })
    }
  }
  return urls
}
