import { connect } from 'node:net'

export interface KafkaBroker {
  nodeId: number
  host: string
  port: number
}

const METADATA_API_KEY = 3
// Version 1: a simple, non-flexible layout that every Kafka 3.x broker answers (4.0 dropped it; bump then).
const METADATA_VERSION = 1
const CLIENT_ID = 'local-stack-probe'

/** A size-prefixed Metadata v1 request asking about no topics: only the broker list comes back. */
export function encodeMetadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from(CLIENT_ID, 'utf8')
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4)
  let at = body.writeInt16BE(METADATA_API_KEY, 0)
  at = body.writeInt16BE(METADATA_VERSION, at)
  at = body.writeInt32BE(correlationId, at)
  at = body.writeInt16BE(clientId.length, at)
  at += clientId.copy(body, at)
  body.writeInt32BE(0, at) // topics: empty array (null would mean "all topics")
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return Buffer.concat([size, body])
}

/** The brokers listed in a Metadata v1 response body (without its size prefix). */
export function decodeMetadataResponse(body: Buffer, expectedCorrelationId: number): KafkaBroker[] {
  let at = 0
  const correlationId = body.readInt32BE(at)
  at += 4
  if (correlationId !== expectedCorrelationId) throw new Error(`unexpected correlation id ${correlationId}`)
  const count = body.readInt32BE(at)
  at += 4
  const brokers: KafkaBroker[] = []
  for (let i = 0; i < count; i++) {
    const nodeId = body.readInt32BE(at)
    const hostLength = body.readInt16BE(at + 4)
    const host = body.toString('utf8', at + 6, at + 6 + hostLength)
    at += 6 + hostLength
    const port = body.readInt32BE(at)
    const rackLength = body.readInt16BE(at + 4)
    at += 6 + Math.max(rackLength, 0)
    brokers.push({ nodeId, host, port })
  }
  return brokers
}

/**
 * Asks the broker at 127.0.0.1:port which brokers are alive.
 * WHY: a listening socket is not a working broker; a KRaft broker lists itself only once the controller has
 * unfenced it, which is when producers and consumers can use it.
 */
export function fetchBrokers(port: number, timeoutMs = 2_000): Promise<KafkaBroker[]> {
  return new Promise((resolve, reject) => {
    const correlationId = Math.floor(Math.random() * 0x7fffffff)
    const socket = connect({ host: '127.0.0.1', port })
    let received = Buffer.alloc(0)
    const fail = (err: Error) => {
      socket.destroy()
      reject(err)
    }
    socket.setTimeout(timeoutMs, () => fail(new Error('timed out')))
    socket.once('error', fail)
    socket.once('connect', () => socket.write(encodeMetadataRequest(correlationId)))
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return
      socket.destroy()
      try {
        resolve(decodeMetadataResponse(received.subarray(4, 4 + received.readInt32BE(0)), correlationId))
      } catch (err) {
        reject(err)
      }
    })
    socket.once('close', () => reject(new Error('connection closed before a full response')))
  })
}
