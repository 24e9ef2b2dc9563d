// Over 300 lines: every pinned tool and how it is installed lives here, so that a version bump, and what it
// downloads, is read in one place (the Kubernetes schemas are most of it: a pip wheel and the CRDs, Strimzi's
// generated).
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { arch, platform } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { aptInstallPackages, ensureTools, toolPath } from '@adtrack/local-stack'
import { parse as parseYaml } from 'yaml'
import { withLock } from './lock.js'
import { goHelperDir, strimziPom, toolsCacheDir } from './paths.js'
import { type Log, run, runChecked, stderrLog } from './run.js'
import { goModuleZipHash, readZip } from './zip.js'

/**
 * Every tool the deploy checks use, pinned. Installed on first use into toolsCacheDir (Go modules through
 * the Go module proxy with `go install`, schemas from PyPI with pip), then reused: a warm call is a few
 * stat() calls. Nothing here needs a Docker engine.
 */
export const PINS = {
  /** The Go modules below need Go 1.24. An older go (1.21+) fetches this one itself (GOTOOLCHAIN). */
  go: {
    minimum: [1, 24],
    fallback: '1.25.14',
    // From `go mod download -json golang.org/toolchain@v0.0.1-go1.25.14.linux-amd64` (checksum database).
    fallbackSum: 'h1:XriDgll2yv4W2YeUo2X/WuUuy+iGJkXGH0CQloMBEXo=',
  },
  kustomize: { module: 'sigs.k8s.io/kustomize/kustomize/v5', version: 'v5.8.1' },
  kubeconform: { module: 'github.com/yannh/kubeconform/cmd/kubeconform', version: 'v0.7.0' },
  /** KEDA's CustomResourceDefinitions, from its Go module (config/crd/bases). */
  keda: { module: 'github.com/kedacore/keda/v2', version: 'v2.17.2' },
  /** The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule), from its Go module. */
  prometheusOperator: { module: 'github.com/prometheus-operator/prometheus-operator', version: 'v0.85.0' },
  /**
   * The Gateway API's CRDs (Gateway, HTTPRoute; Standard channel), from its Go module (config/crd). The
   * version Envoy Gateway v1.9.1 is built against (its go.mod), the release deploy/README.md installs.
   */
  gatewayApi: { module: 'sigs.k8s.io/gateway-api', version: 'v1.6.1' },
  /**
   * CloudNativePG's CRDs (Cluster, ScheduledBackup, Pooler), from its Go module: the operator version
   * deploy/README.md installs.
   */
  cloudnativePg: { module: 'github.com/cloudnative-pg/cloudnative-pg', version: 'v1.28.0' },
  /**
   * Strimzi's CRDs (Kafka, KafkaNodePool, KafkaTopic, KafkaUser; v1beta2). Strimzi publishes its CRD files
   * only in GitHub release archives, which the checks cannot reach; they are generated here as Strimzi's
   * build writes them (api/pom.xml): its CrdGenerator run over its model classes, both from Maven Central
   * (strimzi/pom.xml). `api` is the operator version deploy/README.md installs. Its build used
   * crd-generator 0.47.0, which was never published; 0.45.0, the newest of the 0.x line, reads the same
   * annotations and writes the same schemas except the CEL rules (x-kubernetes-validations) that
   * 0.47.0 added to the metrics configuration of Kafka, which kubeconform does not evaluate anyway.
   * (crd-generator 1.x moved the annotations and cannot read 0.47.0's classes.) The Access Operator's
   * KafkaAccess has no CRD to be had (its api 0.1.1 is not on Maven Central): data-tier.ts checks it.
   */
  strimzi: {
    api: '0.47.0',
    crdGenerator: '0.45.0',
    models: ['kafka.Kafka', 'nodepool.KafkaNodePool', 'topic.KafkaTopic', 'user.KafkaUser'].map(
      (model) => `io.strimzi.api.kafka.model.${model}`,
    ),
  },
  /**
   * The Kubernetes API's JSON schemas (generated from its OpenAPI, strict variants), from the PyPI
   * package kubernetes-validate. The manifests are validated against the oldest and newest Kubernetes
   * versions deploy/README.md supports.
   */
  kubernetesSchemas: {
    package: 'kubernetes-validate',
    version: '1.34.1',
    sha256: '6ad909e64c140d883f558949364aeca49637580ae88a9a00b59688ab44aae88d',
    kubernetesVersions: ['v1.30.0', 'v1.34.0'],
  },
} as const

export interface GoToolchain {
  go: string
  env: NodeJS.ProcessEnv
}

const memo = new Map<string, Promise<unknown>>()
function once<T>(key: string, fn: () => Promise<T>): Promise<T> {
  let promise = memo.get(key) as Promise<T> | undefined
  if (!promise) {
    promise = fn()
    memo.set(key, promise)
    promise.catch(() => memo.delete(key))
  }
  return promise
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

function parseGoVersion(text: string): [number, number, number] | undefined {
  const match = /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(text)
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined
}

/**
 * A Go toolchain: the machine's if recent enough; an older one (1.21+) switched to the pinned release,
 * which it downloads from the module proxy itself; with no Go at all, the pinned release's
 * golang.org/toolchain module zip from the proxy, checked against its checksum-database hash.
 */
export function ensureGo(log: Log = stderrLog): Promise<GoToolchain> {
  return once('go', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GOTOOLCHAIN: 'local',
      // Pure Go builds: no C compiler needed.
      CGO_ENABLED: '0',
      GOFLAGS: '-buildvcs=false',
    }
    for (const candidate of [findOnPath('go'), '/usr/local/go/bin/go']) {
      if (!candidate || !existsSync(candidate)) continue
      const result = await run(candidate, ['env', 'GOVERSION'], { env })
      const version = parseGoVersion(result.stdout)
      if (result.code !== 0 || !version) continue
      const [major, minor] = version
      if (major > PINS.go.minimum[0] || (major === PINS.go.minimum[0] && minor >= PINS.go.minimum[1]))
        return { go: candidate, env }
      if (major === 1 && minor >= 21) {
        log(`${candidate} is go${version.join('.')}; switching it to go${PINS.go.fallback} (GOTOOLCHAIN)`)
        return { go: candidate, env: { ...env, GOTOOLCHAIN: `go${PINS.go.fallback}` } }
      }
    }
    const goroot = join(toolsCacheDir, `go-${PINS.go.fallback}`)
    const go = join(goroot, 'bin', 'go')
    if (!existsSync(go)) await withLock(`${goroot}.lock`, () => installGoToolchain(goroot, log))
    return { go, env: { ...env, PATH: `${dirname(go)}${delimiter}${env.PATH ?? ''}` } }
  })
}

/** The pinned Go release into goroot, from the module proxy (exported for a manual test of the path). */
export async function installGoToolchain(goroot: string, log: Log): Promise<void> {
  if (existsSync(join(goroot, 'bin', 'go'))) return
  if (platform() !== 'linux' || arch() !== 'x64')
    throw new Error(`no Go on this machine and no pinned Go for ${platform()}-${arch()}: install Go 1.24+`)
  const module = `v0.0.1-go${PINS.go.fallback}.linux-amd64`
  const proxy =
    (process.env.GOPROXY ?? '').split(/[,|]/).find((p) => p.startsWith('http')) ?? 'https://proxy.golang.org'
  const url = `${proxy.replace(/\/$/, '')}/golang.org/toolchain/@v/${module}.zip`
  log(`no Go 1.24+ found: fetching go${PINS.go.fallback} from ${url}`)
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`)
  const entries = readZip(Buffer.from(await res.arrayBuffer()))
  const sum = goModuleZipHash(entries)
  if (sum !== PINS.go.fallbackSum) throw new Error(`${url}: hash ${sum}, expected ${PINS.go.fallbackSum}`)
  const prefix = `golang.org/toolchain@${module}/`
  const staging = await mkdtemp(`${goroot}.tmp-`)
  for (const entry of entries) {
    if (!entry.name.startsWith(prefix)) continue
    const relative = entry.name.slice(prefix.length)
    const target = join(staging, relative)
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, entry.read())
    // Module zips do not keep file modes; the go command marks the same files executable.
    if (/^(bin\/[^/]+|pkg\/tool\/[^/]+\/[^/]+)$/.test(relative)) await chmod(target, 0o755)
  }
  await rename(staging, goroot)
  log(`installed go${PINS.go.fallback} in ${goroot}`)
}

/** A binary built by `go install module@version` into its own cache folder. */
async function goInstall(name: string, module: string, version: string, log: Log): Promise<string> {
  const dir = join(toolsCacheDir, 'bin', `${name}-${version}`)
  const bin = join(dir, name)
  if (existsSync(bin)) return bin
  const { go, env } = await ensureGo(log)
  await withLock(`${dir}.lock`, async () => {
    if (existsSync(bin)) return
    const staging = await mkdtemp(`${dir}.tmp-`)
    log(`go install ${module}@${version} (first run only)`)
    await runChecked(go, ['install', `${module}@${version}`], { env: { ...env, GOBIN: staging } })
    await rename(staging, dir)
  })
  return bin
}

export const ensureKustomize = (log: Log = stderrLog) =>
  once('kustomize', () => goInstall('kustomize', PINS.kustomize.module, PINS.kustomize.version, log))

export const ensureKubeconform = (log: Log = stderrLog) =>
  once('kubeconform', () => goInstall('kubeconform', PINS.kubeconform.module, PINS.kubeconform.version, log))

/** The Go helper in tools/deploy-checks/go, rebuilt whenever its source or pinned modules change. */
export function ensureDeployLint(log: Log = stderrLog): Promise<string> {
  return once('deploy-lint', async () => {
    const hash = createHash('sha256')
    for (const file of ['go.mod', 'go.sum', 'main.go']) hash.update(await readFile(join(goHelperDir, file)))
    const dir = join(toolsCacheDir, 'bin', `deploy-lint-${hash.digest('hex').slice(0, 16)}`)
    const bin = join(dir, 'deploy-lint')
    if (existsSync(bin)) return bin
    const { go, env } = await ensureGo(log)
    await withLock(`${dir}.lock`, async () => {
      if (existsSync(bin)) return
      const staging = await mkdtemp(`${dir}.tmp-`)
      log('building the deploy-lint helper (compose-go, BuildKit, Prometheus parsers; first run only)')
      // -mod=readonly: go.sum must already name every module, as committed.
      await runChecked(go, ['build', '-mod=readonly', '-trimpath', '-o', join(staging, 'deploy-lint'), '.'], {
        cwd: goHelperDir,
        env,
      })
      await rename(staging, dir)
      // TRICKY: the cache is shared by every checkout of this user (worktrees, branches), and another
      // checkout's run may be using its own build right now: deleting every other build made those runs
      // fail (ENOENT). The four newest builds stay; older ones go.
      const builds = (await readdir(dirname(dir))).filter((name) => /^deploy-lint-[0-9a-f]{16}$/.test(name))
      const built = await Promise.all(
        builds.map(async (name) => ({ name, at: (await stat(join(dirname(dir), name))).mtimeMs })),
      )
      for (const { name } of built.sort((x, y) => y.at - x.at).slice(4))
        await rm(join(dirname(dir), name), { recursive: true, force: true })
    })
    return bin
  })
}

/**
 * Folders of JSON schemas in kubeconform's layout (`<kind>-<group>-<version>.json`), one per Kubernetes
 * version in PINS, each with the schemas of the CRDs in CRDS added (KEDA, the Prometheus Operator,
 * the Gateway API, CloudNativePG) and Strimzi's, generated. Returns version -> folder.
 */
export function ensureKubernetesSchemas(log: Log = stderrLog): Promise<Record<string, string>> {
  return once('schemas', async () => {
    const pins = PINS.kubernetesSchemas
    const root = join(
      toolsCacheDir,
      'schemas',
      `${pins.package}-${pins.version}-keda-${PINS.keda.version}-prometheus-operator-${PINS.prometheusOperator.version}-gateway-api-${PINS.gatewayApi.version}-cnpg-${PINS.cloudnativePg.version}-strimzi-${PINS.strimzi.api}-crd-generator-${PINS.strimzi.crdGenerator}`,
    )
    const folders = Object.fromEntries(pins.kubernetesVersions.map((v) => [v, join(root, v)]))
    if (existsSync(join(root, '.complete'))) return folders
    await withLock(`${root}.lock`, async () => {
      if (existsSync(join(root, '.complete'))) return
      await rm(root, { recursive: true, force: true })
      await writeKubernetesSchemas(root, log)
      await writeCrdSchemas(Object.values(folders), log)
      for (const crd of await generateStrimziCrds(log)) await writeCrdSchema(crd, Object.values(folders))
      await writeFile(join(root, '.complete'), `${new Date().toISOString()}\n`)
    })
    return folders
  })
}

async function writeKubernetesSchemas(root: string, log: Log): Promise<void> {
  const pins = PINS.kubernetesSchemas
  const download = await mkdtemp(join(toolsCacheDir, 'pip-'))
  try {
    const pip = await findPip(log)
    // --require-hashes: pip refuses a wheel whose SHA-256 is not the pinned one.
    const requirements = join(download, 'requirements.txt')
    await writeFile(requirements, `${pins.package}==${pins.version} --hash=sha256:${pins.sha256}\n`)
    log(`pip download ${pins.package}==${pins.version} (Kubernetes JSON schemas; first run only)`)
    await runChecked(pip[0] as string, [
      ...pip.slice(1),
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--require-hashes',
      '--disable-pip-version-check',
      '--quiet',
      '-r',
      requirements,
      '-d',
      download,
    ])
    const wheel = (await readdir(download)).find((f) => f.endsWith('.whl'))
    if (!wheel) throw new Error(`pip left no wheel in ${download}`)
    const entries = readZip(await readFile(join(download, wheel)))
    for (const version of pins.kubernetesVersions) {
      const prefix = `kubernetes_validate/kubernetes-json-schema/${version}-local-strict/`
      const files = entries.filter((e) => e.name.startsWith(prefix) && e.name.endsWith('.json'))
      const shared = files.find((e) => e.name === `${prefix}_definitions.json`)
      if (!shared) throw new Error(`${wheel} has no ${prefix}_definitions.json`)
      const definitions = (JSON.parse(shared.read().toString('utf8')) as { $defs: Record<string, unknown> })
        .$defs
      await mkdir(join(root, version), { recursive: true })
      for (const file of files) {
        if (file === shared) continue
        const schema = JSON.parse(file.read().toString('utf8')) as Record<string, unknown>
        await writeFile(
          join(root, version, file.name.slice(prefix.length)),
          JSON.stringify(standalone(schema, definitions)),
        )
      }
    }
  } finally {
    await rm(download, { recursive: true, force: true })
  }
}

/**
 * A kind's schema with the shared definitions it uses copied in as $defs. The wheel's schemas refer to
 * https://kubernetes.io/api/_definitions.json; standalone, kubeconform needs no network and compiles
 * only what each kind uses (the shared file is 4-5 MB).
 */
function standalone(
  schema: Record<string, unknown>,
  definitions: Record<string, unknown>,
): Record<string, unknown> {
  const used = new Map<string, unknown>()
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit)
    if (node === null || typeof node !== 'object') return node
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const name = value.replace(/^(\/api\/_definitions\.json)?#\/\$defs\//, '')
        if (name === value) throw new Error(`unexpected $ref ${value}`)
        if (!used.has(name)) {
          used.set(name, undefined)
          used.set(name, visit(definitions[name]))
        }
        out[key] = `#/$defs/${name}`
      } else out[key] = visit(value)
    }
    return out
  }
  const { $id: _id, ...rest } = visit(schema) as Record<string, unknown>
  return { ...rest, $defs: Object.fromEntries(used) }
}

/** pip as a command line: pip3, pip or python3 -m pip; installed with apt-get (as root) when missing. */
async function findPip(log: Log): Promise<string[]> {
  const candidates = [['pip3'], ['pip'], ['python3', '-m', 'pip']]
  for (const attempt of [1, 2]) {
    for (const candidate of candidates) {
      const result = await run(candidate[0] as string, [...candidate.slice(1), '--version']).catch(
        () => undefined,
      )
      if (result?.code === 0) return candidate
    }
    if (attempt === 1) await aptInstallPackages(['python3-pip'], log)
  }
  throw new Error('pip is missing: install python3-pip')
}

/** The CRDs the manifests use, by Go module, and each one's file in it. */
const CRDS = [
  {
    pin: PINS.keda,
    files: ['scaledobjects', 'triggerauthentications'].map((kind) => `config/crd/bases/keda.sh_${kind}.yaml`),
  },
  {
    pin: PINS.prometheusOperator,
    files: ['servicemonitors', 'podmonitors', 'prometheusrules'].map(
      (kind) => `example/prometheus-operator-crd/monitoring.coreos.com_${kind}.yaml`,
    ),
  },
  {
    pin: PINS.gatewayApi,
    files: ['gateways', 'httproutes'].map(
      (kind) => `config/crd/standard/gateway.networking.k8s.io_${kind}.yaml`,
    ),
  },
  {
    pin: PINS.cloudnativePg,
    files: ['clusters', 'scheduledbackups', 'poolers'].map(
      (kind) => `config/crd/bases/postgresql.cnpg.io_${kind}.yaml`,
    ),
  },
]

/** The CRDs above (KEDA, Prometheus Operator, Gateway API, CloudNativePG) as strict JSON schemas. */
async function writeCrdSchemas(folders: string[], log: Log): Promise<void> {
  const { go, env } = await ensureGo(log)
  for (const { pin, files } of CRDS) {
    log(`go mod download ${pin.module}@${pin.version} (CRDs; first run only)`)
    const info = JSON.parse(
      await runChecked(go, ['mod', 'download', '-json', `${pin.module}@${pin.version}`], { env }),
    ) as { Dir?: string; Error?: string }
    if (!info.Dir) throw new Error(`go mod download: ${info.Error ?? 'no Dir'}`)
    for (const file of files)
      await writeCrdSchema(parseYaml(await readFile(join(info.Dir, file), 'utf8')), folders)
  }
}

/** Each version of a CRD as a strict JSON schema in each folder, named as kubeconform looks it up. */
async function writeCrdSchema(crd: CustomResourceDefinition, folders: string[]): Promise<void> {
  const kind = crd.spec.names.kind.toLowerCase()
  const group = crd.spec.group.split('.')[0]
  for (const version of crd.spec.versions) {
    const schema = strictSchema(version.schema.openAPIV3Schema)
    for (const folder of folders)
      await writeFile(join(folder, `${kind}-${group}-${version.name}.json`), JSON.stringify(schema))
  }
}

/**
 * Strimzi's CRDs (PINS.strimzi), generated: Maven resolves the model classes and the generator into ~/.m2,
 * then the generator writes one CRD per model, with the arguments of Strimzi's build but v1beta2 alone
 * (its build adds v1alpha1 and v1beta1 to KafkaTopic and KafkaUser; their v1beta2 schemas are the same).
 */
async function generateStrimziCrds(log: Log): Promise<CustomResourceDefinition[]> {
  const pins = PINS.strimzi
  const work = await mkdtemp(join(toolsCacheDir, 'strimzi-'))
  try {
    await ensureTools(['java', 'maven'], log)
    log(
      `generating Strimzi ${pins.api}'s CRDs: io.strimzi:api and io.strimzi:crd-generator ${pins.crdGenerator} from Maven Central (first run only)`,
    )
    const classpath = join(work, 'classpath')
    await runChecked(
      toolPath('maven'),
      [
        '-B',
        '-q',
        '-f',
        strimziPom,
        'dependency:build-classpath',
        `-Dstrimzi.api.version=${pins.api}`,
        `-Dstrimzi.crd-generator.version=${pins.crdGenerator}`,
        `-Dmdep.outputFile=${classpath}`,
      ],
      { timeoutMs: 15 * 60_000 },
    )
    const files = pins.models.map((model) => join(work, `${model}.yaml`))
    // The classpath (some forty jars in ~/.m2) by environment, so that an error names a short command.
    const env = { ...process.env, CLASSPATH: (await readFile(classpath, 'utf8')).trim() }
    await runChecked(
      toolPath('java'),
      [
        'io.strimzi.crdgenerator.CrdGenerator',
        ...['--crd-api-version', 'v1', '--api-versions', 'v1beta2', '--storage-version', 'v1beta2', '--yaml'],
        ...pins.models.map((model, i) => `${model}=${files[i]}`),
      ],
      { env },
    )
    return await Promise.all(
      files.map(async (file) => parseYaml(await readFile(file, 'utf8')) as CustomResourceDefinition),
    )
  } catch (err) {
    throw new Error(
      `could not generate Strimzi ${pins.api}'s CRDs (Java and Maven Central needed, tools/deploy-checks/strimzi/pom.xml): ${(err as Error).message}`,
    )
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

interface CustomResourceDefinition {
  spec: {
    group: string
    names: { kind: string }
    versions: { name: string; schema: { openAPIV3Schema: unknown } }[]
  }
}

/**
 * An OpenAPI v3 schema of a CRD as JSON schema, strict as kubeconform's own conversion is: objects with
 * declared properties accept no others (unless marked x-kubernetes-preserve-unknown-fields), so a
 * misspelt field fails.
 */
export function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, strictSchema(sub)]))
    } else {
      out[key] = strictSchema(value)
    }
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null']
  if (
    out.type === 'object' &&
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  )
    out.additionalProperties = false
  return out
}

/** The nginx binary (Debian's package): @adtrack/local-stack installs it for `npm start`'s gateway too. */
export function ensureNginx(log: Log = stderrLog): Promise<string> {
  return once('nginx', async () => {
    await ensureTools(['nginx'], log)
    return toolPath('nginx')
  })
}

/** Everything, for `node tools/deploy-checks/dist/cli.js tools` and CI caches. */
export async function ensureAllTools(log: Log = stderrLog): Promise<Record<string, string>> {
  const [kustomize, kubeconform, deployLint, schemas, nginx] = await Promise.all([
    ensureKustomize(log),
    ensureKubeconform(log),
    ensureDeployLint(log),
    ensureKubernetesSchemas(log),
    ensureNginx(log),
  ])
  return { kustomize, kubeconform, deployLint, nginx, ...schemas }
}
