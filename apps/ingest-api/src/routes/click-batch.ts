import {
  type ClickBatchItemResult,
  ClickBatchReply,
  ClickBatchRequest,
  type ClickMessage,
  ClickRequest,
  patternMeaning,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Compile } from 'typebox/compile'
import { clickMessage, clickReceipt } from '../click-message.js'
import { overloaded, sendEachDurably } from '../load-shedding.js'
import { CLICK_ERRORS, type ClickRouteOptions } from './clicks.js'

/** Body limit of POST /ads/clicks per click it may carry: a click at its largest is under 400 bytes. */
export const BATCH_BYTES_PER_CLICK = 1024

// The same schema as POST /ads/click: unknown fields are ignored, as there (the message takes known ones).
const clickRequest = Compile(ClickRequest)

/** `POST /ads/clicks`: many clicks in one request, each judged on its own. */
export const clickBatchRoute: FastifyPluginAsyncTypebox<ClickRouteOptions> = async (batch, opts) => {
  const maxClicks = opts.batchMaxClicks ?? 500
  // NDJSON: one click per line. A line that is not JSON fails on its own, like any other bad item.
  batch.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const items: unknown[] = []
    for (const line of String(body).split('\n')) {
      if (line.trim() === '') continue
      try {
        items.push(JSON.parse(line))
      } catch (err) {
        items.push(new MalformedLine((err as Error).message))
      }
    }
    done(null, items)
  })
  batch.post(
    '/ads/clicks',
    {
      bodyLimit: maxClicks * BATCH_BYTES_PER_CLICK,
      // Items are validated one by one in the handler (a bad item must not spoil the others); the
      // schema is here for the API description.
      validatorCompiler: () => (value: unknown) => ({ value }),
      schema: {
        summary: 'Record many clicks in one request',
        description: `A JSON array (or NDJSON with Content-Type application/x-ndjson) of up to BATCH_MAX_CLICKS (${maxClicks} by default) clicks, each validated on its own. Answers 200 once every accepted item is durable, with one result per item in order: accepted with its click_id, or that item's error. Give each item its own click_id for idempotent retries.`,
        body: ClickBatchRequest,
        response: {
          200: ClickBatchReply,
          400: errorReply(
            'The body is not JSON, not an array, or empty (`VALIDATION_FAILED`); a bad item is not a 400 but a rejected result in a 200.',
          ),
          413: errorReply(
            `More than BATCH_MAX_CLICKS items (\`BATCH_TOO_LARGE\`), or a body over ${BATCH_BYTES_PER_CLICK} bytes per allowed click.`,
          ),
          ...CLICK_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const items: unknown = request.body
      if (!Array.isArray(items) || items.length === 0) {
        throw new HttpError(
          400,
          'body must be a non-empty JSON array of clicks (or NDJSON, one click per line)',
          'VALIDATION_FAILED',
        )
      }
      if (items.length > maxClicks) {
        throw new HttpError(
          413,
          `a batch may carry at most ${maxClicks} clicks, got ${items.length}`,
          'BATCH_TOO_LARGE',
        )
      }
      const results: ClickBatchItemResult[] = new Array(items.length)
      const messages: ClickMessage[] = []
      const indexes: number[] = []
      const receipt = clickReceipt(request)
      for (let i = 0; i < items.length; i++) {
        const item: unknown = items[i]
        if (item instanceof MalformedLine) {
          results[i] = rejected(400, 'MALFORMED_JSON', `line ${i + 1} is not JSON: ${item.message}`)
        } else if (!clickRequest.Check(item)) {
          results[i] = rejected(400, 'VALIDATION_FAILED', itemValidationMessage(i, item))
        } else if (!opts.catalog.accepts(item.ad_id)) {
          results[i] = rejected(404, 'AD_NOT_FOUND', `ad "${item.ad_id}" does not exist or is not active`)
        } else {
          messages.push(clickMessage(item, item.click_id ?? crypto.randomUUID(), receipt))
          indexes.push(i)
        }
      }
      const sent = await sendEachDurably(opts.producer, messages, { log: request.log, refused: opts.refused })
      if (sent.shed) return overloaded(reply)
      sent.refusals.forEach((refused, k) => {
        const index = indexes[k] as number
        results[index] = refused
          ? rejected(503, refused.code, refused.message)
          : { status: 'accepted', click_id: (messages[k] as ClickMessage).click_id }
      })
      let accepted = 0
      for (const r of results) if (r.status === 'accepted') accepted++
      opts.accepted?.inc({ route: request.routeOptions.url }, accepted)
      return { accepted, rejected: results.length - accepted, results }
    },
  )
}

/** An NDJSON line that did not parse, kept in its place so that the item gets its own error. */
class MalformedLine {
  constructor(readonly message: string) {}
}

function rejected(statusCode: number, code: string, message: string): ClickBatchItemResult {
  return { status: 'rejected', statusCode, code, message }
}

/** The first validation error of item `index`, worded as the single route words it ("body/0/ad_id …"). */
function itemValidationMessage(index: number, item: unknown): string {
  const error = clickRequest.Errors(item)[0]
  if (!error) return `body/${index} is not a valid click`
  const meaning = error.keyword === 'pattern' ? patternMeaning(error.params.pattern) : undefined
  return `body/${index}${error.instancePath} ${meaning ?? error.message}`
}
