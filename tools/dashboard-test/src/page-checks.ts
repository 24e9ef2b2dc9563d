import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'

const require = createRequire(import.meta.url)
let axeSource: string | undefined

/** What a page did that it must not: CSP refusals, dialogs (an injected alert()), uncaught errors. */
export interface PageWatch {
  dialogs: string[]
  errors: string[]
  cspViolations(): Promise<string[]>
}

/**
 * Watches a page from before its first script: every dialog (auto-dismissed), uncaught exception, and
 * Content-Security-Policy violation (recorded by a listener the browser installs before the page's own
 * code, so a refused inline style or script is seen even when the page carries on).
 */
export async function watchPage(page: Page): Promise<PageWatch> {
  const watch = { dialogs: [] as string[], errors: [] as string[] }
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  })
  page.on('pageerror', (err) => watch.errors.push(err.message))
  await page.addInitScript(() => {
    const seen: string[] = []
    ;(window as unknown as { __csp: string[] }).__csp = seen
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(
        `${e.effectiveDirective} refused ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      )
    })
  })
  return {
    ...watch,
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp ?? []),
  }
}

export interface AxeFinding {
  id: string
  impact: string | null
  help: string
  targets: string[]
}

/**
 * axe-core's serious and critical findings on the page as it is now. Its script is evaluated through the
 * DevTools protocol, which the page's CSP does not govern (a <script> tag added to the page would be
 * refused, rightly).
 */
export async function axeViolations(page: Page): Promise<AxeFinding[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8')
  const loaded = await page.evaluate('typeof window.axe !== "undefined"')
  if (!loaded) await page.evaluate(axeSource)
  const findings = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<AxeResults> } }).axe
    type AxeResults = {
      violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[]
    }
    const result = await axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }))
  })
  return findings.filter((f) => f.impact === 'serious' || f.impact === 'critical')
}

/**
 * What makes the reader scroll sideways: how far the page is wider than its window (0 when nothing
 * does), and the elements reaching past its right edge, to say which.
 */
export function horizontalOverflow(page: Page): Promise<{ overflow: number; culprits: string[] }> {
  return page.evaluate(() => {
    const root = document.documentElement
    const culprits = [...document.body.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
      .slice(0, 5)
      .map(
        (el) =>
          `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ${Math.round(el.getBoundingClientRect().right)}px`,
      )
    return { overflow: root.scrollWidth - root.clientWidth, culprits }
  })
}
