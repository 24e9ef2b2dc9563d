// The ingest ceiling's baseline: a bare Fastify server whose POST /ads/click answers 202 with no work
// (no validation, no Kafka), the same reply shape as ingest-api, in a process of its own.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/ads/click', async (_request, reply) => {
  reply.code(202)
  return { status: 'Click recorded', click_id: 'bare-server-0' }
})
app.get('/livez', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.HTTP_PORT ?? 0) })
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.once(sig, () => void app.close().then(() => process.exit(0)))
