import { connect } from 'node:net'

/**
 * True when Redis answers PING with PONG; false on refusal, timeout or `-LOADING` (still reading its AOF).
 * A raw socket avoids depending on a Redis client library or on redis-cli being installed.
 */
export function redisPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let reply = ''
    const finish = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => finish(false))
    socket.once('error', () => finish(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'))
    })
  })
}
