import { describe, expect, it } from 'vitest'
import { decodeMetadataResponse, encodeMetadataRequest } from './kafka-probe.js'

function metadataResponse(
  correlationId: number,
  brokers: { id: number; host: string; port: number; rack?: string }[],
) {
  const parts: Buffer[] = []
  const int32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeInt32BE(n)
    parts.push(b)
  }
  const string = (s: string | undefined) => {
    const b = Buffer.alloc(2)
    b.writeInt16BE(s === undefined ? -1 : Buffer.byteLength(s))
    parts.push(b)
    if (s !== undefined) parts.push(Buffer.from(s))
  }
  int32(correlationId)
  int32(brokers.length)
  for (const broker of brokers) {
    int32(broker.id)
    string(broker.host)
    int32(broker.port)
    string(broker.rack)
  }
  int32(1) // controller id
  int32(0) // topics
  return Buffer.concat(parts)
}

describe('encodeMetadataRequest', () => {
  it('frames a Metadata v1 request for no topics', () => {
    const request = encodeMetadataRequest(42)
    expect(request.readInt32BE(0)).toBe(request.length - 4)
    expect(request.readInt16BE(4)).toBe(3) // api key: Metadata
    expect(request.readInt16BE(6)).toBe(1) // api version
    expect(request.readInt32BE(8)).toBe(42)
    const clientIdLength = request.readInt16BE(12)
    expect(request.toString('utf8', 14, 14 + clientIdLength)).toBe('local-stack-probe')
    expect(request.readInt32BE(14 + clientIdLength)).toBe(0) // empty topic array, not null (= all topics)
    expect(request.length).toBe(14 + clientIdLength + 4)
  })
})

describe('decodeMetadataResponse', () => {
  it('reads every broker, with or without a rack', () => {
    const body = metadataResponse(7, [
      { id: 1, host: '127.0.0.1', port: 9092 },
      { id: 2, host: 'kafka-2', port: 9093, rack: 'eu-1a' },
    ])
    expect(decodeMetadataResponse(body, 7)).toEqual([
      { nodeId: 1, host: '127.0.0.1', port: 9092 },
      { nodeId: 2, host: 'kafka-2', port: 9093 },
    ])
  })

  it('returns no brokers while the broker is still fenced', () => {
    expect(decodeMetadataResponse(metadataResponse(7, []), 7)).toEqual([])
  })

  it('rejects a response to some other request', () => {
    expect(() => decodeMetadataResponse(metadataResponse(8, []), 7)).toThrow(/correlation id 8/)
  })
})
