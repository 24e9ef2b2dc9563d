import { describe, expect, it } from 'vitest'
import { kafkaClasspathFile, parseClasspath } from './kafka-classpath.js'

const broker = '/m2/org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar'
const clients = '/m2/org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar'

describe('parseClasspath', () => {
  it('accepts a classpath whose jars all exist and include the broker', () => {
    expect(parseClasspath(`${broker}:${clients}\n`, () => true)).toEqual([broker, clients])
  })

  it('rejects it when a jar has gone from ~/.m2, so Maven resolves again', () => {
    expect(parseClasspath(`${broker}:${clients}`, (path) => path !== clients)).toBeUndefined()
  })

  it('rejects an empty file or one for another Kafka version', () => {
    expect(parseClasspath('', () => true)).toBeUndefined()
    expect(parseClasspath(clients.replaceAll('3.9.1', '3.8.0'), () => true)).toBeUndefined()
  })
})

describe('kafkaClasspathFile', () => {
  it('lives in the per-user cache, honouring XDG_CACHE_HOME', () => {
    expect(kafkaClasspathFile({ XDG_CACHE_HOME: '/c' })).toBe('/c/ad-tracking/kafka-3.9.1.classpath')
  })
})
