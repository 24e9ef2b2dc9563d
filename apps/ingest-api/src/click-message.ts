import {
  CLICK_MESSAGE_VERSION,
  type ClickMessage,
  type ClickRequest,
  cleanHeaderText,
} from '@adtrack/contracts'
import type { FastifyRequest } from 'fastify'

/** Longest user agent a click message carries (the contract's bound). */
const MAX_USER_AGENT = 512
const MAX_IP = 64

/** What a click's Kafka message takes from its request rather than from the click itself. */
export interface ClickReceipt {
  ip: string
  user_agent: string
  received_at: string
}

/**
 * Where and when a request's clicks arrived, as the Kafka message stores it: the client address and user
 * agent, cleaned of what PostgreSQL or the contract would refuse (contracts' cleanHeaderText) rather than
 * refused, since they are the request's and not the player's. The address is cleaned too: behind a
 * trusted proxy it is read from X-Forwarded-For, which is any text the client wrote there.
 */
export function clickReceipt(request: FastifyRequest): ClickReceipt {
  return {
    ip: cleanHeaderText(request.ip, MAX_IP),
    user_agent: cleanHeaderText(request.headers['user-agent'] ?? '', MAX_USER_AGENT),
    received_at: new Date().toISOString(),
  }
}

/** The Kafka message of a valid click, for POST /ads/click and each item of POST /ads/clicks alike. */
export function clickMessage(click: ClickRequest, click_id: string, receipt: ClickReceipt): ClickMessage {
  return {
    v: CLICK_MESSAGE_VERSION,
    click_id,
    ad_id: click.ad_id,
    playback_time: click.playback_time,
    received_at: receipt.received_at,
    ip: receipt.ip,
    user_agent: receipt.user_agent,
    ...(click.viewer_id === undefined ? {} : { viewer_id: click.viewer_id }),
  }
}
