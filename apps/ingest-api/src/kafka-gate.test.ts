import type { ProducerBatch } from 'kafkajs'
import { describe, expect, it, vi } from 'vitest'
import { DeadlineError, deadlineSignal } from './click-producer.js'
import { type BatchSender, BrokenCircuitError, KafkaGate } from './kafka-gate.js'

const batch: ProducerBatch = { acks: -1, topicMessages: [{ topic: 't', messages: [{ value: 'x' }] }] }

/** A sendBatch whose every call fails, succeeds or hangs as the test says. */
function scriptedSender() {
  const script: Array<'fail' | 'ok' | 'hang'> = []
  let fallback: 'fail' | 'ok' | 'hang' = 'ok'
  const held: Array<() => void> = []
  const sender: BatchSender & { calls: number } = {
    calls: 0,
    sendBatch: async () => {
      sender.calls++
      const step = script.shift() ?? fallback
      if (step === 'fail') throw Object.assign(new Error('connection refused'), { retriable: true })
      if (step === 'hang') await new Promise<void>((resolve) => held.push(resolve))
      return []
    },
  }
  return {
    sender,
    script,
    held,
    setFallback: (s: typeof fallback) => {
      fallback = s
    },
  }
}

describe('KafkaGate', () => {
  it('retries a transient failure with backoff and resolves once Kafka acknowledges', async () => {
    const kafka = scriptedSender()
    kafka.script.push('fail', 'fail', 'ok')
    const onError = vi.fn()
    const gate = new KafkaGate(kafka.sender, { retries: 3, minBackoffMs: 1, maxBackoffMs: 2, onError })
    await gate.send(batch)
    expect(kafka.sender.calls).toBe(3)
    expect(onError).toHaveBeenCalledTimes(2)
  })

  it('stops after its bounded number of retries and rejects with the last error', async () => {
    const kafka = scriptedSender()
    kafka.setFallback('fail')
    const gate = new KafkaGate(kafka.sender, { retries: 2, minBackoffMs: 1, maxBackoffMs: 2 })
    await expect(gate.send(batch)).rejects.toThrow('connection refused')
    expect(kafka.sender.calls).toBe(3)
  })

  it('never waits for Kafka past the deadline, even for an attempt that hangs', async () => {
    const kafka = scriptedSender()
    kafka.setFallback('hang')
    const onError = vi.fn()
    const gate = new KafkaGate(kafka.sender, { retries: 1000, minBackoffMs: 1, onError })
    await expect(gate.send(batch, deadlineSignal(performance.now() + 30))).rejects.toBeInstanceOf(
      DeadlineError,
    )
    expect(onError).toHaveBeenCalledWith(expect.any(DeadlineError))
    // A deadline already gone: Kafka is not even tried.
    const calls = kafka.sender.calls
    await expect(gate.send(batch, deadlineSignal(performance.now() - 1))).rejects.toBeInstanceOf(
      DeadlineError,
    )
    expect(kafka.sender.calls).toBe(calls)
  })

  it('opens after consecutive failures, refuses without calling Kafka, then lets one trial through', async () => {
    const kafka = scriptedSender()
    kafka.setFallback('fail')
    const gate = new KafkaGate(kafka.sender, { retries: 0, breakerThreshold: 3, halfOpenAfterMs: 30 })
    expect(gate.state).toBe(0)
    for (let i = 0; i < 3; i++) await expect(gate.send(batch)).rejects.toThrow('connection refused')
    expect(gate.state).toBe(2)

    await expect(gate.send(batch)).rejects.toBeInstanceOf(BrokenCircuitError)
    expect(kafka.sender.calls).toBe(3)

    await new Promise((r) => setTimeout(r, 40)) // past halfOpenAfterMs
    kafka.setFallback('hang')
    const trial = gate.send(batch)
    await vi.waitFor(() => expect(kafka.sender.calls).toBe(4))
    expect(gate.state).toBe(1)
    kafka.held.shift()?.()
    await trial
    expect(gate.state).toBe(0)
  })

  it('does not retry a send the open circuit refused, nor count it as a produce error', async () => {
    const kafka = scriptedSender()
    kafka.setFallback('fail')
    const onError = vi.fn()
    const gate = new KafkaGate(kafka.sender, {
      retries: 1000,
      minBackoffMs: 1,
      maxBackoffMs: 1,
      breakerThreshold: 2,
      halfOpenAfterMs: 60_000,
      onError,
    })
    await expect(gate.send(batch)).rejects.toBeInstanceOf(BrokenCircuitError)
    expect(kafka.sender.calls).toBe(2)
    expect(onError).toHaveBeenCalledTimes(2)
  })
})
