import {
  ErrorBody,
  type EventMessage,
  patternMeaning,
  TrackingEventRequest,
  type TrackingEventResult,
  TrackingEventsReply,
  TrackingEventsRequest,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import { Compile } from 'typebox/compile'
import { clickReceipt } from '../click-message.js'
import { overloaded, sendEachDurably } from '../load-shedding.js'
import { checkToken, eventMessage } from '../tracking-message.js'
import { BATCH_BYTES_PER_CLICK } from './click-batch.js'
import type { TrackingApp, TrackingRouteOptions } from './tracking.js'

const eventRequest = Compile(TrackingEventRequest)

/**
 * `POST /track/events` (added by trackingRoutes, under its /track prefix): the SDK route, for players that
 * report events from script and batch them. What a pixel URL says, as JSON; each event judged on its own,
 * the reply shaped as POST /ads/clicks's.
 */
export function addTrackingEventsRoute(app: TrackingApp, opts: TrackingRouteOptions): void {
  const maxEvents = opts.batchMaxEvents ?? 500
  app.post(
    '/events',
    {
      // An event at its largest (a 256-character token) is under 400 bytes, as a click is.
      bodyLimit: maxEvents * BATCH_BYTES_PER_CLICK,
      // Items are validated one by one in the handler (a bad item must not spoil the others); the
      // schema is here for the API description.
      validatorCompiler: () => (value: unknown) => ({ value }),
      schema: {
        summary: 'Record video events from a player script (one or many)',
        description: `One TrackingEventRequest or a JSON array of up to BATCH_MAX_CLICKS (${maxEvents} by default), each item of an array validated on its own (a single event that is not one is a 400); sendBeacon-friendly (a text/plain body is read as JSON, and needs no CORS preflight). Answers 200 once every accepted event is durable, with one result per event in order (one for a single event): accepted, or that event's error. A refused token is the event's 403 \`BAD_TOKEN\`, its reason in the message. Each (impression, event) counts once, however often it is sent.`,
        body: TrackingEventsRequest,
        response: {
          200: TrackingEventsReply,
          400: errorReply(
            'The body is not JSON, a single event that is not a TrackingEventRequest, or an empty array (`VALIDATION_FAILED`); a bad item of an array is not a 400 but a rejected result in a 200.',
          ),
          413: errorReply(
            `More than BATCH_MAX_CLICKS events (\`BATCH_TOO_LARGE\`), or a body over ${BATCH_BYTES_PER_CLICK} bytes per allowed event.`,
          ),
          503: errorReply(
            'The server is shedding load (`OVERLOADED`): nothing was recorded. An event not durable in time is a rejected result instead.',
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const body: unknown = request.body
      const items: unknown[] = Array.isArray(body) ? body : [body]
      // NOTE: no body at all arrives as undefined or null, depending on the content type sent.
      if (body === undefined || body === null || items.length === 0) {
        throw new HttpError(
          400,
          'body must be an event or a non-empty JSON array of them',
          'VALIDATION_FAILED',
        )
      }
      // A single event is the whole request, judged as POST /ads/click judges a click: not an event is a
      // 400. Only an array's items are judged one by one, so that a bad one does not spoil the others.
      if (!Array.isArray(body) && !eventRequest.Check(body)) {
        throw new HttpError(400, itemValidationMessage('body', body), 'VALIDATION_FAILED')
      }
      if (items.length > maxEvents) {
        throw new HttpError(
          413,
          `a request may carry at most ${maxEvents} events, got ${items.length}`,
          'BATCH_TOO_LARGE',
        )
      }
      const results: TrackingEventResult[] = new Array(items.length)
      const messages: EventMessage[] = []
      const indexes: number[] = []
      const receipt = clickReceipt(request)
      const where = (i: number) => (Array.isArray(body) ? `body/${i}` : 'body')
      const now = Date.now()
      for (let i = 0; i < items.length; i++) {
        const item: unknown = items[i]
        if (!eventRequest.Check(item)) {
          results[i] = rejected(400, 'VALIDATION_FAILED', itemValidationMessage(where(i), item))
          continue
        }
        const check = checkToken(opts.tokens, item.t, { now })
        if (!check.ok) {
          opts.tokenRefusals?.inc({ reason: check.reason })
          results[i] = rejected(403, 'BAD_TOKEN', `${where(i)}/t was refused: ${check.reason}`)
          continue
        }
        messages.push(
          eventMessage(item.event, check.impression, receipt, {
            errorCode: item.error_code,
            adPlayhead: item.ad_playhead,
          }),
        )
        indexes.push(i)
      }
      const sent = await sendEachDurably(opts.producer, messages, { log: request.log, refused: opts.refused })
      if (sent.shed) return overloaded(reply)
      sent.refusals.forEach((refused, k) => {
        const message = messages[k] as EventMessage
        if (!refused) opts.acceptedEvents?.inc({ route: request.routeOptions.url, event: message.type })
        results[indexes[k] as number] = refused
          ? rejected(503, refused.code, refused.message)
          : { status: 'accepted', event: message.type, impression_id: message.impression_id }
      })
      let accepted = 0
      for (const r of results) if (r.status === 'accepted') accepted++
      return { accepted, rejected: results.length - accepted, results }
    },
  )
}

function rejected(statusCode: number, code: string, message: string): TrackingEventResult {
  return { status: 'rejected', statusCode, code, message }
}

/** The first validation error of an item at `path`, worded as the click routes word theirs ("body/0/event …"). */
function itemValidationMessage(path: string, item: unknown): string {
  const error = eventRequest.Errors(item)[0]
  if (!error) return `${path} is not a valid event`
  const meaning = error.keyword === 'pattern' ? patternMeaning(error.params.pattern) : undefined
  return `${path}${error.instancePath} ${meaning ?? error.message}`
}
