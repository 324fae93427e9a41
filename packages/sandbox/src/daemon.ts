/**
 * The sandbox daemon: one background Node process (started by `clipper-ops sandbox up`) that
 * hosts the AWS front, the Kubernetes stand-in, the two stacks, the public router, a notification
 * sink and a control API, with moto_server as its child, and the PostgreSQL servers behind RDS.
 * It seeds the world, writes the files users point their tools at, reports ready in sandbox.json,
 * and on SIGTERM closes everything and stops moto and PostgreSQL.
 *
 * Run as: node daemon.js <state-dir> [--ttl seconds] [--change-delay ms] [--snapshot-copy-interval ms]
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import {rmSync, writeFileSync} from 'node:fs'
// Only what starts moto is imported up front: moto (a Python process) is the slowest part to
// get ready, so it starts first and the rest (AWS SDK clients included) loads meanwhile.
import {startMoto, type MotoServer} from './aws-front/moto.js'
import {SandboxLayout, type SandboxInfo} from './layout.js'
import {listen} from './listen.js'
import type {AwsFront} from './aws-front/front.js'
import type {K8sStandIn} from './kube-stand-in/server.js'
import type {Router} from './router.js'
import type {PrometheusStandIn, SeriesValues} from './prometheus.js'
import type {SeedFacts} from './seed.js'
import type {Stack, StackName} from './stacks.js'
import type {PostgresFleet} from './postgres/fleet.js'
import type {WebhookSink} from './webhook-sink.js'

interface World {
  moto: MotoServer
  front: AwsFront
  k8s: K8sStandIn
  stacks: Record<StackName, Stack>
  router: Router
  prometheus: PrometheusStandIn
  facts: SeedFacts
  /** The PostgreSQL behind RDS; undefined when there is none. */
  postgres?: PostgresFleet
  /** Where the sandbox environment's notifications go. */
  sink: WebhookSink
}

/**
 * The primary with its data and first base backup, and the base backup behind the seeded
 * snapshot. Without PostgreSQL (or when it fails to start) a warning instead: the rest of the
 * sandbox works without it.
 */
async function startPostgres(sandboxDir: string): Promise<{fleet?: PostgresFleet; warning?: string}> {
  try {
    const {PostgresFleet} = await import('./postgres/fleet.js')
    const started = Date.now()
    const r = await PostgresFleet.start({sandboxDir, log: (line) => console.log(line)})
    if ('warning' in r) return {warning: r.warning}
    // Failure is logged by the fleet, and the snapshot then says failed.
    const {SANDBOX} = await import('./daemon-parts.js')
    await r.fleet.takeBaseBackup(SANDBOX.dbSnapshot).done.catch(() => undefined)
    console.log(`postgres: primary on port ${r.fleet.port}, seeded and backed up in ${Date.now() - started}ms (data in ${r.fleet.dataRoot})`)
    return {fleet: r.fleet}
  } catch (e) {
    return {warning: `PostgreSQL did not start (${(e as Error).message}); the sandbox's RDS instance keeps moto's fake endpoint.`}
  }
}

/** The series the Prometheus stand-in serves, computed from the stacks' last minute of traffic. */
function series(stacks: Record<StackName, Stack>, sandboxQueries: typeof import('./prometheus.js').sandboxQueries): SeriesValues {
  const out: SeriesValues = {}
  for (const s of Object.values(stacks)) {
    const q = sandboxQueries(s.name)
    const w = s.window(60)
    // No traffic in the window is no data, as rate() over nothing is.
    out[q.errorRatio] = w.requests ? w.errors / w.requests : undefined
    out[q.p95Seconds] = w.p95Ms === undefined ? undefined : w.p95Ms / 1000
    out[q.requestRate] = w.requests / 60
  }
  return out
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

async function main(): Promise<void> {
  const layout = new SandboxLayout(process.argv[2]!)
  const ttl = arg('--ttl', 5)
  const changeDelayMs = arg('--change-delay', 2000)
  // 0: no copies kept fresh in the secondary region (the seeded one is still made).
  const copyEveryMs = arg('--snapshot-copy-interval', 60_000)
  const cliRootAt = process.argv.indexOf('--cli-root')
  const cliRoot = cliRootAt > 0 ? process.argv[cliRootAt + 1] : undefined
  const started = Date.now()
  writeFileSync(layout.daemonPid, String(process.pid))

  const mark = (what: string) => console.log(`${String(Date.now() - started).padStart(5)}ms ${what}`)
  // moto (a Python process) and PostgreSQL (initdb, seeding, base backups) take the longest to
  // start: everything else starts meanwhile.
  const motoStarting = startMoto({logFile: layout.motoLog})
  let postgresStarting = startPostgres(layout.dir)
  stopPostgresOnFailure = async () => (await postgresStarting).fleet?.stop()
  const {
    startAwsFront,
    startK8sStandIn,
    writeSandboxFiles,
    startRouter,
    sandboxQueries,
    startPrometheusStandIn,
    kubernetesHealthy,
    PLATFORM_SERVICES,
    SANDBOX,
    resetTrafficRecords,
    seedAws,
    seedKubernetes,
    seedPlatform,
    DEFAULT_KNOBS,
    startStack,
    atomicWriteFile,
    startWebhookSink,
    NOTIFY_ENV,
  } = await import('./daemon-parts.js')
  mark('modules loaded')
  let k8s = await startK8sStandIn()
  const stacks: Record<StackName, Stack> = {
    legacy: await startStack('legacy'),
    kubernetes: await startStack('kubernetes', {healthy: () => kubernetesHealthy(world.k8s)}),
  }
  mark('kubernetes stand-in and stacks listening')
  const moto = await motoStarting
  writeFileSync(layout.motoPid, String(moto.pid))
  mark(`moto ready (pid ${moto.pid})`)
  let front = await startAwsFront({upstream: moto.url, route53ChangeDelayMs: changeDelayMs, logFile: layout.awsRequests})
  const prometheus = await startPrometheusStandIn({series: () => series(stacks, sandboxQueries)})
  const sink = await startWebhookSink({deliveriesFile: layout.notifyDeliveries})
  const world: World = {moto, front, k8s, stacks, prometheus, sink, router: undefined as never, facts: undefined as never}
  const seed = async (w: World, ttlSeconds: number): Promise<SeedFacts> => {
    seedKubernetes(w.k8s)
    const {clipperPassword} = await import('./postgres/fleet.js')
    const facts = await seedAws({
      dbPassword: clipperPassword(layout.dir),
      motoUrl: w.moto.url,
      ttl: ttlSeconds,
      stackPorts: {legacy: w.stacks.legacy.port, kubernetes: w.stacks.kubernetes.port},
      backup: w.front.backup,
      eks: w.front.eks,
      rds: w.front.rds,
      kubernetesApi: w.k8s.url,
    })
    // The rest of the platform (what verify --phase post reads) is seeded in the background; until
    // it is done the front holds calls to its services, so nobody sees it half made.
    const platformStarted = Date.now()
    const platform = seedPlatform(w.moto.url, facts.network).then(
      () => console.log(`platform seeded in ${Date.now() - platformStarted}ms (in the background)`),
      (e: unknown) => console.log(`platform seeding failed: ${(e as Error).stack}`),
    )
    w.front.hold(PLATFORM_SERVICES, platform)
    return facts
  }
  world.facts = await seed(world, ttl)
  mark('seeded')
  const attachPostgres = async (): Promise<string[]> => {
    const pg = await postgresStarting
    world.postgres = pg.fleet
    // A snapshot copied to the secondary region every copyEveryMs, as a copy rule would: the region RPO.
    world.front.rds.attach(pg.fleet, SANDBOX.db, {
      region: SANDBOX.region,
      copies: {to: SANDBOX.secondaryRegion, everyMs: copyEveryMs, keep: 3, log: (line) => console.log(line)},
    })
    return pg.warning ? [pg.warning] : []
  }
  const postgresWarnings = await attachPostgres()
  mark(world.postgres ? `postgres ready (port ${world.postgres.port})` : 'no postgres')
  world.router = await startRouter({
    motoUrl: moto.url,
    region: SANDBOX.region,
    zoneId: () => world.facts.hostedZoneId,
    recordName: SANDBOX.record,
    recordType: 'A',
    targets: [
      {setIdentifier: SANDBOX.legacy.setIdentifier, stack: stacks.legacy},
      {setIdentifier: SANDBOX.kubernetes.setIdentifier, stack: stacks.kubernetes, ttlSeconds: ttl},
    ],
  })

  const control = http.createServer((req, res) => void handleControl({world, layout, ttl, reset, resetTraffic}, req, res))
  const {url: controlUrl} = await listen(control, 0, '127.0.0.1')

  const urls = {aws: front.url, control: controlUrl, legacy: stacks.legacy.url, kubernetes: stacks.kubernetes.url, public: world.router.url, prometheus: prometheus.url}
  await k8s.writeKubeconfig(layout.kubeconfig, {context: 'sandbox', namespace: SANDBOX.namespace})
  const notify = {pagerdutyUrl: sink.pagerdutyUrl, env: sink.env}
  const files = await writeSandboxFiles(layout, world.facts, urls, ttl, cliRoot, world.postgres?.databaseUrl(), notify)
  const helm = files.helm
  const warnings = [...postgresWarnings, ...files.warnings]
  for (const w of warnings) console.log(`warning: ${w}`)
  mark('files written')

  const info: SandboxInfo = {
    version: 1,
    state: 'ready',
    pid: process.pid,
    motoPid: moto.pid,
    startedAt: new Date(started).toISOString(),
    readyAt: new Date().toISOString(),
    readyMs: Date.now() - started,
    region: SANDBOX.region,
    awsEndpoint: front.url,
    motoUrl: moto.url,
    controlUrl,
    kubernetesApi: k8s.url,
    kubeconfig: layout.kubeconfig,
    config: layout.config,
    environment: 'sandbox',
    stacks: {legacy: stacks.legacy.url, kubernetes: stacks.kubernetes.url},
    publicUrl: world.router.url,
    prometheusUrl: prometheus.url,
    hostedZoneId: world.facts.hostedZoneId,
    recordName: SANDBOX.record,
    ttl,
    bin: layout.bin,
    helm: helm ?? null,
    warnings,
    postgres: world.postgres?.status() ?? null,
    snapshotCopies: world.postgres && copyEveryMs > 0 ? {region: SANDBOX.secondaryRegion, everySeconds: copyEveryMs / 1000, keep: 3} : null,
    logs: {daemon: layout.daemonLog, moto: layout.motoLog, awsRequests: layout.awsRequests},
    notify: {url: sink.url, deliveries: sink.deliveriesFile, envFile: layout.notifyEnv, variables: {...NOTIFY_ENV}},
  }
  atomicWriteFile(layout.info, `${JSON.stringify(info, null, 2)}\n`)
  console.log(`sandbox ready in ${info.readyMs}ms: aws ${front.url}, kubernetes ${k8s.url}, public ${world.router.url}`)

  let stopping = false
  const stop = async (why: string) => {
    if (stopping) return
    stopping = true
    console.log(`stopping (${why})`)
    const timer = setTimeout(() => process.exit(1), 5000)
    await Promise.allSettled([
      control.close(),
      world.router.close(),
      world.prometheus.close(),
      world.sink.close(),
      world.stacks.legacy.close(),
      world.stacks.kubernetes.close(),
      world.front.close(),
      world.k8s.close(),
      // Every PostgreSQL server stopped and its data removed (sandbox down cleans up after a daemon that could not).
      world.postgres?.stop(),
    ])
    await world.moto.stop()
    for (const f of [layout.info, layout.daemonPid, layout.motoPid]) rmSync(f, {force: true})
    clearTimeout(timer)
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGHUP', () => void stop('SIGHUP'))

  // Reset of the traffic only: the zone's records as seeded, no faults, healthy stacks — a second,
  // where a full reset reseeds every service and PostgreSQL. Kubernetes, S3 and the databases are kept.
  async function resetTraffic(): Promise<void> {
    await resetTrafficRecords(world.moto.url, world.facts, ttl)
    await calm()
  }

  // Both resets end here: no faults, healthy stacks with no history, the resolver's cache flushed.
  async function calm(): Promise<void> {
    world.front.faults.clear()
    world.sink.faults.clear()
    for (const s of Object.values(world.stacks)) {
      await s.set({...DEFAULT_KNOBS})
      s.resetStats()
    }
    world.router.flush()
  }

  // Reset: a fresh moto state, front and Kubernetes stand-in on the same ports, healthy stacks.
  async function reset(): Promise<void> {
    // A fresh PostgreSQL too (the same password): the old one's servers stopped, its data removed.
    const previous = world.postgres
    postgresStarting = (async () => {
      await previous?.stop()
      return startPostgres(layout.dir)
    })()
    await fetch(`${world.moto.url}/moto-api/reset`, {method: 'POST'})
    const frontPort = world.front.port
    const k8sPort = world.k8s.port
    await world.front.close()
    await world.k8s.close()
    world.front = front = await startAwsFront({upstream: moto.url, port: frontPort, route53ChangeDelayMs: changeDelayMs, logFile: layout.awsRequests})
    world.k8s = k8s = await startK8sStandIn({port: k8sPort})
    world.facts = await seed(world, ttl)
    const resetWarnings = await attachPostgres()
    await calm()
    await writeSandboxFiles(layout, world.facts, urls, ttl, cliRoot, world.postgres?.databaseUrl(), notify)
    info.hostedZoneId = world.facts.hostedZoneId
    info.postgres = world.postgres?.status() ?? null
    for (const w of resetWarnings) if (!info.warnings.includes(w)) info.warnings.push(w)
    atomicWriteFile(layout.info, `${JSON.stringify(info, null, 2)}\n`)
  }
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      try {
        resolve(body ? (JSON.parse(body) as Record<string, unknown>) : {})
      } catch (error) {
        reject(error)
      }
    })
  })
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json'})
  res.end(`${JSON.stringify(body)}\n`)
}

/** The control API that `sandbox status|reset|fault` and the docker stand-in talk to. */
async function handleControl(
  c: {world: World; layout: SandboxLayout; ttl: number; reset: () => Promise<void>; resetTraffic: () => Promise<void>},
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const {world, layout, ttl} = c
  try {
    const url = new URL(req.url ?? '/', 'http://x')
    const body = req.method === 'POST' ? await readJson(req) : {}
    if (req.method === 'GET' && url.pathname === '/status') {
      return send(res, 200, {
        info: layout.readInfo(),
        stacks: Object.fromEntries(Object.values(world.stacks).map((s) => [s.name, {url: s.url, ...s.knobs, totals: s.totals, lastMinute: s.window(60)}])),
        resolver: world.router.view(),
        faults: world.front.faults.list(),
        notifyFaults: world.sink.faults.list(),
        postgres: world.postgres?.status() ?? null,
        ttl,
      })
    }
    const stack = /^\/stacks\/(legacy|kubernetes)$/.exec(url.pathname)
    if (req.method === 'POST' && stack) {
      const s = world.stacks[stack[1] as StackName]
      const k: Record<string, unknown> = {}
      if (typeof body.errorRate === 'number') k.errorRate = body.errorRate
      if (typeof body.latencyMs === 'number') k.latencyMs = body.latencyMs
      if (typeof body.up === 'boolean') k.up = body.up
      await s.set(k)
      return send(res, 200, {name: s.name, url: s.url, ...s.knobs})
    }
    const dep = /^\/kubernetes\/deployments\/([^/]+)\/([^/]+)$/.exec(url.pathname)
    if (req.method === 'POST' && dep) {
      world.k8s.setDeploymentHealth(dep[1]!, dep[2]!, body as never)
      return send(res, 200, {namespace: dep[1], name: dep[2], ...body})
    }
    // Faults of the notification sink: a rule ({provider, kind, count, probability, latencyMs}), or {clear: true}.
    if (req.method === 'POST' && url.pathname === '/notify/faults') {
      if (body.clear === true) return send(res, 200, {cleared: world.sink.faults.clear()})
      const {sinkFaultRule} = await import('./daemon-parts.js')
      try {
        const rule = sinkFaultRule(body)
        return send(res, 200, {id: world.sink.faults.add(rule), rule})
      } catch (error) {
        // A rule that makes no sense is the caller's mistake, not the sandbox's.
        return send(res, 400, {error: (error as Error).message})
      }
    }
    if (req.method === 'POST' && url.pathname === '/reset') {
      await (body.traffic === true ? c.resetTraffic() : c.reset())
      return send(res, 200, {reset: true, info: layout.readInfo()})
    }
    send(res, 404, {error: `no such control endpoint: ${req.method} ${url.pathname}`})
  } catch (error) {
    send(res, 500, {error: (error as Error).message})
  }
}

/** What a daemon that fails to start must still stop: PostgreSQL runs detached, outside its process group. */
let stopPostgresOnFailure: (() => Promise<void>) | undefined

main().catch(async (error) => {
  console.error(`sandbox failed to start: ${(error as Error).stack ?? error}`)
  await Promise.race([stopPostgresOnFailure?.().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))])
  process.exit(1)
})
