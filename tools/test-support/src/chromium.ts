import { ensureTools, type Log, toolPath } from '@adtrack/local-stack'
import { type Browser, chromium, type LaunchOptions } from 'playwright-core'

/**
 * The system's Chromium (Debian's `chromium`, installed with apt-get on first use when running as root),
 * driven by playwright-core. playwright-core downloads no browser of its own, which is why it is the one
 * used: the machines reach Debian's packages but no browser download site. Shared by the browser tests
 * (the VAST player's, the dashboard's); `args` adds a test's own Chromium switches.
 */
export async function launchChromium(log: Log, options: Pick<LaunchOptions, 'args'> = {}): Promise<Browser> {
  await ensureTools(['chromium'], log)
  const executablePath = toolPath('chromium')
  log(`launching ${executablePath} (headless)`)
  return chromium.launch({
    executablePath,
    headless: true,
    // NOTE: Chromium's sandbox refuses to start as root, which is how CI and `npm test` run here; the pages
    // loaded are our own test pages, so the sandbox protects nothing in these tests.
    chromiumSandbox: false,
    args: options.args ?? [],
  })
}

/**
 * The browser's own user agent as a viewer's Chromium sends it. Headless Chromium says `HeadlessChrome`,
 * which the services' bot rule (isbot) rightly marks as a bot: every event would be counted invalid. The
 * rest of the string is left as this Chromium writes it.
 */
export async function viewerUserAgent(browser: Browser): Promise<string> {
  const page = await browser.newPage()
  try {
    return (await page.evaluate(() => navigator.userAgent)).replace('HeadlessChrome/', 'Chrome/')
  } finally {
    await page.close()
  }
}
