/** Kafka topic names in one place. The clicks topic is configurable (KAFKA_TOPIC); the rest derive from it. */
export const DEFAULT_CLICK_TOPIC = 'ad-clicks'

/** Where the worker puts messages it cannot process, with the reason in headers. */
export const deadLetterTopic = (clickTopic: string): string => `${clickTopic}.dlq`
