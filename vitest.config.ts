import { defineConfig } from 'vitest/config'

// One run covers the whole workspace. Unit tests need nothing running; integration tests
// (*.integration.test.ts) share one Kafka/Postgres/Redis stack started by the global setup and isolate
// themselves inside it (own database, topic, consumer group and Redis key prefix per file).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{apps,packages,tools}/*/src/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/*.faults.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{apps,packages,tools}/*/src/**/*.integration.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          globalSetup: ['./tools/test-support/dist/global-setup.js'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores share the brokers with the tests: run files one or two at a time.
          maxWorkers: 2,
        },
      },
      {
        // Kills and restarts Kafka, Postgres, Redis and workers: its own stack, one scenario at a time.
        test: {
          name: 'faults',
          include: ['tools/fault-tests/src/**/*.faults.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
})
