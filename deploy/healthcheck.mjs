#!/usr/bin/env node
// The image's HEALTHCHECK: exits 0 when the service's /readyz on METRICS_PORT answers 200 within 2 s.
// Readiness rather than liveness, because `depends_on: condition: service_healthy` in docker-compose.yml
// means "can do its job". Plain Node, no dependencies: the runtime image has no curl or wget.
const port = process.env.METRICS_PORT || '2112'
const url = `http://127.0.0.1:${port}/readyz`
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
  if (res.status !== 200) {
    process.stderr.write(`${url} answered ${res.status}: ${(await res.text()).slice(0, 500)}\n`)
    process.exit(1)
  }
} catch (err) {
  process.stderr.write(`${url}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
