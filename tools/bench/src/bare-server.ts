// The ingest baselines: a bare Fastify server whose routes answer as ingest-api's do with no work (no
// validation, no token check, no Kafka), in a process of its own. POST /ads/click answers 202 for (a);
// the tracking pixel a 1x1 GIF and the click-through a 302 for (f).
import Fastify from 'fastify'

// A 1x1 transparent GIF, what a pixel answers (the same bytes as ingest-api's).
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

const app = Fastify({ logger: false })
app.post('/ads/click', async (_request, reply) => {
  reply.code(202)
  return { status: 'Click recorded', click_id: 'bare-server-0' }
})
app.get('/track/:ad_id/clickthrough', async (_request, reply) => {
  reply.header('cache-control', 'no-store').redirect('https://advertiser.example/', 302)
})
app.get('/track/:ad_id/:event', async (_request, reply) => {
  reply.header('cache-control', 'no-store').type('image/gif')
  return GIF
})
app.get('/livez', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.HTTP_PORT ?? 0) })
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.once(sig, () => void app.close().then(() => process.exit(0)))
