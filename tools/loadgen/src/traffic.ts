import type { LoadOptions } from './args.js'
import { mulberry32, ZipfSampler } from './random.js'

export interface Click {
  ad_id: string
  playback_time: number
  click_id: string
  viewer_id: string
}

export const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
]
export const BOTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'python-requests/2.32.3',
]

/**
 * Generates clicks as players send them: ads by Zipf popularity, viewers drawn from a large pool, a
 * share of bots (by user agent) and of repeats (the same viewer on the same ad again, a new click).
 * Deterministic for a seed; click ids are unique per run (`lg<seed>-<run>-<n>`).
 */
export class Traffic {
  private readonly random: () => number
  private readonly zipf: ZipfSampler
  private readonly run = Date.now().toString(36)
  private n = 0
  private last: Click | undefined

  constructor(
    private readonly ads: string[],
    private readonly opts: Pick<LoadOptions, 'zipf' | 'viewers' | 'botShare' | 'repeatShare' | 'seed'>,
  ) {
    if (ads.length === 0) throw new RangeError('no ads to click')
    this.random = mulberry32(opts.seed)
    this.zipf = new ZipfSampler(ads.length, opts.zipf, this.random)
  }

  click(): Click {
    const click_id = `lg${this.opts.seed}-${this.run}-${(this.n++).toString(36)}`
    const playback_time = Math.min(3600, Math.floor(-Math.log(1 - this.random()) * 30))
    if (this.last && this.random() < this.opts.repeatShare) {
      this.last = { ...this.last, click_id, playback_time }
      return this.last
    }
    this.last = {
      ad_id: this.ads[this.zipf.next()] as string,
      playback_time,
      click_id,
      viewer_id: `viewer-${Math.floor(this.random() * this.opts.viewers)}`,
    }
    return this.last
  }

  /** A user agent for the next request: a bot's with probability botShare, else a browser's. */
  userAgent(): string {
    const list = this.random() < this.opts.botShare ? BOTS : BROWSERS
    return list[Math.floor(this.random() * list.length)] as string
  }

  chance(p: number): boolean {
    return this.random() < p
  }
}
