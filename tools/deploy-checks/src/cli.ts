#!/usr/bin/env node
// node tools/deploy-checks/dist/cli.js tools          install (or confirm) every pinned tool and schema
// node tools/deploy-checks/dist/cli.js render <path>  kustomize build deploy/k8s/<path> with the pinned
//                                                        kustomize, e.g. `render overlays/prod | kubectl apply -f -`
// node tools/deploy-checks/dist/cli.js monitoring    regenerate deploy/k8s/components/monitoring's PrometheusRule
//                                                        and dashboard copy from deploy/observability
// The checks themselves run in `npm test` (tools/deploy-checks/src/*.test.ts).
import { render } from './k8s.js'
import { writeMonitoringFiles } from './monitoring.js'
import { stderrLog } from './run.js'
import { ensureAllTools } from './tools.js'

const [command, arg] = process.argv.slice(2)
if (command === 'tools') {
  const started = Date.now()
  const tools = await ensureAllTools(stderrLog)
  for (const [name, path] of Object.entries(tools)) process.stdout.write(`${name}\t${path}\n`)
  stderrLog(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} else if (command === 'render' && arg) {
  process.stdout.write((await render(arg, stderrLog)).yaml)
} else if (command === 'monitoring') {
  for (const file of await writeMonitoringFiles()) process.stdout.write(`wrote ${file}\n`)
} else {
  process.stderr.write(
    'usage: cli.js tools | render <path under deploy/k8s, e.g. overlays/dev> | monitoring\n',
  )
  process.exit(2)
}
