import { cleanHeaderText } from '@adtrack/contracts'
import type { FastifyRequest } from 'fastify'

/** Longest user agent a click message carries (the contract's bound). */
const MAX_USER_AGENT = 512
const MAX_IP = 64

/**
 * Where a click came from, as the Kafka message stores it: the client address and user agent, cleaned
 * of what PostgreSQL or the contract would refuse (contracts' cleanHeaderText) rather than refused, since
 * they are the request's and not the player's. The address is cleaned too: behind a trusted proxy it is
 * read from X-Forwarded-For, which is any text the client wrote there.
 */
export function clickOrigin(request: FastifyRequest): { ip: string; user_agent: string } {
  return {
    ip: cleanHeaderText(request.ip, MAX_IP),
    user_agent: cleanHeaderText(request.headers['user-agent'] ?? '', MAX_USER_AGENT),
  }
}
