import { ensureTools, type Log, toolPath } from '@adtrack/local-stack'
import { type Browser, chromium } from 'playwright-core'

/**
 * The system's Chromium (Debian's `chromium`, installed with apt-get on first use when running as root),
 * driven by playwright-core. playwright-core downloads no browser of its own, which is why it is the one
 * used: the machines reach Debian's packages but no browser download site.
 */
export async function launchChromium(log: Log): Promise<Browser> {
  await ensureTools(['chromium'], log)
  const executablePath = toolPath('chromium')
  log(`launching ${executablePath} (headless)`)
  return chromium.launch({
    executablePath,
    headless: true,
    // NOTE: Chromium's sandbox refuses to start as root, which is how CI and `npm test` run here; the pages
    // loaded are our own test pages, so the sandbox protects nothing in this test.
    chromiumSandbox: false,
    args: [
      // A player starts its ad without a click, as one on a publisher's page does (muted autoplay would
      // also work, but this keeps the tag's unmuted state as the tracker assumes it).
      '--autoplay-policy=no-user-gesture-required',
      // The demo video has a sound track; nothing should try to open an audio device on a server.
      '--mute-audio',
    ],
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
