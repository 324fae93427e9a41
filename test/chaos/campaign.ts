/**
 * The chaos campaign (npm run chaos; a fixed-seed slice runs in npm test). Against one sandbox it
 * runs the built-in cutover and rollback while it kills the CLI (SIGKILL at a journal entry, at a
 * random moment, inside a change batch Route 53 has applied but not yet answered), injects Route 53
 * faults, starts a second operator on another state dir, edits the weights behind the tool's back,
 * damages run state, and feeds malformed input. After every scenario it checks the invariants
 * (see `checkRun`); a violation is a defect. Everything random comes from one seed, so a failure
 * replays with `npm run chaos -- --seed N --only K`.
 */
import {execFileSync} from 'node:child_process'
import {appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {parse} from 'yaml'
import {readJournal, startCli, waitFor, type CliResult, type StartedCli} from '../helpers/cli.js'
import type {TestSandbox} from '../helpers/sandbox.js'
import {fmt, lockHolder, sameWeights, WorldView, type Weights} from './world.js'

const FIXTURES = resolve(import.meta.dirname, '../fixtures')
const LEGACY: Weights = {legacy: 100, kubernetes: 0}
const K8S: Weights = {legacy: 0, kubernetes: 100}
const STACK_TRACE = /^\s+at .+(\.js|\.ts):\d+:\d+\)?$/m

// --- randomness from one seed ----------------------------------------------------------------------

export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
const between = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))

// --- the scenarios ---------------------------------------------------------------------------------

type Flow = 'rollout' | 'rollback'
type FaultKind = 'throttle' | 'priorRequestNotComplete' | 'http500' | 'http503' | 'latency' | 'drop' | 'lostResponse'
interface FaultRule {
  service: string
  operation: string
  kind: FaultKind
  probability: number
  latencyMs?: number
}

export type Plan =
  | {type: 'kill-at'; flow: Flow; seq: number; again?: number}
  | {type: 'kill-random'; flow: Flow; afterMs: number; again?: number}
  | {type: 'kill-in-batch'; flow: Flow; batch: number}
  | {type: 'api-faults'; flow: Flow; rules: FaultRule[]}
  | {type: 'second-operator'; other: Flow; atSeq: number; killFirst: boolean}
  | {type: 'out-of-band'; atSeq: number; to: Weights}
  | {type: 'broken-lock'}
  | {type: 'stale-resume'}
  | {type: 'edit-before-first-shift'}
  | {type: 'lost-answers'}
  | {type: 'corrupt'; how: 'torn-line' | 'half-state' | 'empty-state' | 'deleted-run' | 'damaged-line' | 'huge-line'; seq: number}
  | {type: 'secret-in-path'; flow: Flow}
  | {type: 'malformed'; index: number}

export interface ScenarioResult {
  n: number
  plan: Plan
  label: string
  kills: number
  faults: number
  /** Runs a gate stopped (and that shifted back as they should). */
  gateFailures: number
  violations: string[]
  ms: number
}

/** What a scenario saw: filled in as it goes, judged at the end. */
class Scenario {
  since = new Date().toISOString()
  outputs: CliResult[] = []
  violations: string[] = []
  kills = 0
  /** Runs stopped by a gate (and shifted back): a right ending, counted apart. */
  gateFailures = 0
  constructor(readonly h: Harness) {}

  fail(what: string): void {
    this.violations.push(what)
  }
}

export class Harness {
  readonly world: WorldView
  readonly secrets: string[]
  readonly stateB: string
  private readonly runbookEvents = new Map<Flow, number>()

  constructor(readonly sb: TestSandbox) {
    this.world = new WorldView(sb)
    this.stateB = join(sb.cwd, '.operator-b')
    // The values the run must use and never write: the sandbox's secret-named tools.env values
    // (database password, Slack/webhook tokens, PagerDuty key) and an AWS secret key in the env.
    const env = parse(readFileSync(sb.status.config, 'utf8')).environments.sandbox.tools.env as Record<string, string>
    const fromUrls = Object.entries(env)
      .filter(([k]) => /URL$|KEY$|TOKEN|PASSWORD/.test(k) && k !== 'AWS_ENDPOINT_URL' && k !== 'CLIPPER_OPS_SANDBOX_CONTROL')
      .flatMap(([, v]) => (/^[a-z]+:\/\//.test(v) ? [new URL(v).password, new URL(v).pathname.split('/').at(-1)!] : [v]))
    this.secrets = [...fromUrls.filter((s) => s && s.length >= 12), 'chaosSecretKey/9f3kQ7vXw2LmZ4tR']
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {AWS_ACCESS_KEY_ID: 'AKIACHAOSEXAMPLE', AWS_SECRET_ACCESS_KEY: 'chaosSecretKey/9f3kQ7vXw2LmZ4tR', CLIPPER_OPS_LOCK_TTL: '20s', ...extra}
  }

  args(flow: Flow, stateDir = this.sb.stateDir, steps = '10,50,100', bake = '1s'): string[] {
    const common = ['--env', 'sandbox', '--yes', '--config', this.sb.status.config, '--state-dir', stateDir]
    return flow === 'rollout' ? ['rollout', ...common, '--steps', steps, '--bake', bake] : ['rollback', ...common]
  }

  start(sc: Scenario, args: string[], env: NodeJS.ProcessEnv = {}): StartedCli {
    const run = startCli(args, {cwd: this.sb.cwd, env: this.env(env), timeoutMs: 180_000})
    void run.done.then(
      (r) => sc.outputs.push(r),
      (error: Error) => sc.fail(`${args[0]}: ${error.message.split('\n')[0]}`),
    )
    return run
  }

  async cli(sc: Scenario, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return this.start(sc, args, env).done
  }

  async fault(method: 'POST' | 'DELETE', body?: unknown): Promise<void> {
    const r = await fetch(`${this.sb.status.awsEndpoint}/_sandbox/faults`, {method, ...(body ? {body: JSON.stringify(body), headers: {'content-type': 'application/json'}} : {})})
    if (!r.ok) throw new Error(`sandbox fault ${method}: ${r.status} ${await r.text()}`)
  }

  /** Journal entries of a flow's clean run: the kill points the sweep walks through. */
  async eventsOf(flow: Flow): Promise<number> {
    const known = this.runbookEvents.get(flow)
    if (known) return known
    const sc = new Scenario(this)
    await this.setStart(flow === 'rollout' ? LEGACY : K8S)
    const run = this.start(sc, this.args(flow))
    const r = await run.done
    if (r.code !== 0) throw new Error(`the calibration ${flow} failed (${r.code}): ${r.stderr.slice(-1500)}`)
    const id = JSON.parse(readFileSync(join(this.newestRun(this.sb.stateDir)!, 'state.json'), 'utf8')).id as string
    const n = readJournal(this.sb.stateDir, id).length
    this.runbookEvents.set(flow, n)
    return n
  }

  newestRun(stateDir: string): string | undefined {
    const dir = join(stateDir, 'runs')
    if (!existsSync(dir)) return undefined
    const last = readdirSync(dir).sort().at(-1)
    return last ? join(dir, last) : undefined
  }

  /** Before a scenario: no faults, no lock, the weights where the scenario starts. */
  async setStart(w: Weights): Promise<void> {
    await this.fault('DELETE')
    await this.world.clearLock()
    await this.world.setWeights(w)
  }
}

// --- running one flow, with kills ------------------------------------------------------------------

function runIdsIn(stateDir: string): Set<string> {
  try {
    return new Set(readdirSync(join(stateDir, 'runs')))
  } catch {
    return new Set()
  }
}

/** Start a flow in the background; resolve its run id once the run directory exists. */
async function startFlow(sc: Scenario, args: string[], env: NodeJS.ProcessEnv = {}, stateDir = sc.h.sb.stateDir): Promise<{run: StartedCli; runId: string}> {
  const before = runIdsIn(stateDir)
  const run = sc.h.start(sc, args, env)
  const runId = await waitFor(
    () => {
      const id = [...runIdsIn(stateDir)].find((x) => !before.has(x))
      if (id && existsSync(join(stateDir, 'runs', id, 'journal.jsonl'))) return id
      if (run.child.exitCode !== null || run.child.signalCode !== null)
        throw new Error(`${args[0]} ended (${run.child.exitCode ?? run.child.signalCode}) before its run began: ${run.output().stderr.slice(-800)}`)
      return undefined
    },
    30_000,
    'the run directory',
  )
  return {run, runId}
}

/** `runs resume` until the run ends (a resume can itself be killed: `killAt` of the next attempt). */
async function resumeToEnd(sc: Scenario, runId: string, killAt?: number, stateDir = sc.h.sb.stateDir): Promise<CliResult> {
  for (let i = 0; ; i++) {
    const env = i === 0 && killAt ? {CLIPPER_OPS_CHAOS_KILL_AT: String(killAt)} : {}
    const r = await sc.h.cli(sc, ['runs', 'resume', runId, '--yes', '--state-dir', stateDir], env)
    if (r.signal === 'SIGKILL') {
      sc.kills++
      continue
    }
    if (i > 3) sc.fail(`run ${runId} needed ${i + 1} resumes`)
    return r
  }
}

const lastSeq = (stateDir: string, runId: string) => readJournal(stateDir, runId).at(-1)?.seq as number | undefined

/**
 * How a flow (or its resume) ended: 0 is right; so is 1 when a gate failed and the run shifted
 * back (a loaded machine can make the sandbox slower than a gate allows: the gate doing its job).
 * Anything else is a violation.
 */
function judgeEnd(sc: Scenario, what: string, r: CliResult, runId: string, stateDir = sc.h.sb.stateDir): void {
  if (r.code === 0) return
  const state = JSON.parse(readFileSync(join(stateDir, 'runs', runId, 'state.json'), 'utf8')) as {status: string; failure?: {stepId?: string; compensated?: boolean}}
  const gate = /(\.bake|verify|verify-health)$/.test(state.failure?.stepId ?? '')
  if (r.code === 1 && state.status === 'failed' && gate && state.failure?.compensated !== false) {
    sc.gateFailures++
    return
  }
  sc.fail(`${what} exited ${r.code ?? r.signal}: ${r.stderr.slice(-400)}`)
}

// --- the invariants --------------------------------------------------------------------------------

interface Expect {
  runId: string
  stateDir?: string
  flow: Flow
  start: Weights
  /** The weights the scenario must end with whatever the run says (someone else's edit). */
  live?: Weights
  /** The run may end interrupted (a refusal), not only succeeded or failed. */
  mayStop?: boolean
}

/**
 * After a scenario: the records end where the runbook meant or where a safe abort put them; the run
 * state parses and agrees with the world; no change batch was applied twice; a finished run holds
 * no lock; no secret in any file the run wrote or anything it printed; no stack trace.
 */
async function checkRun(sc: Scenario, e: Expect): Promise<void> {
  const stateDir = e.stateDir ?? sc.h.sb.stateDir
  const shown = await sc.h.cli(sc, ['runs', 'show', e.runId, '--json', '--state-dir', stateDir])
  if (shown.code !== 0) return sc.fail(`runs show ${e.runId} exited ${shown.code}: ${shown.stderr.slice(0, 300)}`)
  const show = JSON.parse(shown.stdout) as {
    status: string
    world?: {data?: {weights?: Weights}}[]
    steps: {kind: string; status: string; inputs?: unknown; outputs?: {before?: Weights; after?: Weights}}[]
  }
  const live = (await sc.h.world.read()).weights
  const target = e.flow === 'rollout' ? K8S : LEGACY
  if (e.live) {
    if (!sameWeights(live, e.live)) sc.fail(`weights ${fmt(live)}, but the scenario left them at ${fmt(e.live)} (the tool overruled someone)`)
  } else if (show.status === 'succeeded') {
    if (!sameWeights(live, target)) sc.fail(`run succeeded but the weights are ${fmt(live)}, not ${fmt(target)}`)
  } else if (show.status === 'failed' || (e.mayStop && show.status === 'interrupted')) {
    // Where it put them: each shift's result, and a failed shift's wanted weights (its batch may have
    // gone through before it failed, e.g. waiting for INSYNC).
    // (The inputs are in the run's state file; runs show leaves them out.)
    const steps = (JSON.parse(readFileSync(join(stateDir, 'runs', e.runId, 'state.json'), 'utf8')) as typeof show).steps
    const own = steps
      .filter((s) => s.kind === 'dns-weights')
      .flatMap((s) => [s.outputs?.after, s.outputs?.before, s.status === 'failed' ? (s.inputs as Weights | undefined) : undefined])
    if (![e.start, ...own].some((w) => sameWeights(w, live))) sc.fail(`run ${show.status}; the weights ${fmt(live)} are neither where it started nor where it put them`)
  } else sc.fail(`run ended ${show.status}`)
  const read = show.world?.[0]?.data?.weights
  if (read && !e.live && !sameWeights(read, live)) sc.fail(`the run read back ${fmt(read)} at its end, but the world is ${fmt(live)}`)

  // No batch applied twice: two accepted batches of this run with the same changes would be a step
  // repeated (another run — the second operator's rollback — may make the same change once more).
  const batches = (await sc.h.sb.requests(sc.since)).filter(
    (r) => r.operation === 'ChangeResourceRecordSets' && r.status === 200 && r.comment?.includes(e.runId) && r.changes?.some((c) => c.includes(' clpr.tv. A ')),
  )
  const seen = new Set<string>()
  for (const b of batches) {
    const key = [...b.changes!].sort().join('; ')
    if (seen.has(key)) sc.fail(`a change batch was applied twice: ${key}`)
    seen.add(key)
  }

  const {lock} = await sc.h.world.read()
  if (['succeeded', 'failed'].includes(show.status) && lockHolder(lock)?.runId === e.runId) sc.fail(`run ${e.runId} ended ${show.status} and still holds the lock`)
  checkNoSecrets(sc, stateDir)
}

function filesUnder(dir: string, since: number): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter((f) => !f.includes('/sandbox/') && !f.includes('/fallback/') && statSync(f).mtimeMs >= since - 1000)
}

function checkNoSecrets(sc: Scenario, ...stateDirs: string[]): void {
  const since = Date.parse(sc.since)
  for (const f of stateDirs.flatMap((d) => filesUnder(d, since))) {
    const text = readFileSync(f, 'utf8')
    for (const s of sc.h.secrets) if (text.includes(s)) sc.fail(`a secret (${s.slice(0, 3)}…) is in ${f}`)
  }
  for (const o of sc.outputs) {
    for (const s of sc.h.secrets) if (o.stdout.includes(s) || o.stderr.includes(s)) sc.fail(`a secret (${s.slice(0, 3)}…) was printed`)
    if (STACK_TRACE.test(o.stderr)) sc.fail(`a stack trace was printed: ${o.stderr.slice(0, 300)}`)
    if (o.code !== null && ![0, 1, 2, 130].includes(o.code)) sc.fail(`exit code ${o.code}`)
  }
}

// --- scenario bodies -------------------------------------------------------------------------------

async function killAt(sc: Scenario, p: Extract<Plan, {type: 'kill-at'}>): Promise<void> {
  const start = p.flow === 'rollout' ? LEGACY : K8S
  await sc.h.setStart(start)
  const {run, runId} = await startFlow(sc, sc.h.args(p.flow), {CLIPPER_OPS_CHAOS_KILL_AT: String(p.seq)})
  const r = await run.done
  if (r.signal === 'SIGKILL') {
    sc.kills++
    const again = p.again ? (lastSeq(sc.h.sb.stateDir, runId) ?? 0) + p.again : undefined
    judgeEnd(sc, 'the resume', await resumeToEnd(sc, runId, again), runId)
  } else judgeEnd(sc, `${p.flow} (not killed)`, r, runId)
  await checkRun(sc, {runId, flow: p.flow, start})
}

async function killRandom(sc: Scenario, p: Extract<Plan, {type: 'kill-random'}>): Promise<void> {
  const start = p.flow === 'rollout' ? LEGACY : K8S
  await sc.h.setStart(start)
  const {run, runId} = await startFlow(sc, sc.h.args(p.flow))
  await new Promise((r) => setTimeout(r, p.afterMs))
  run.child.kill('SIGKILL')
  const r = await run.done
  if (r.signal === 'SIGKILL') sc.kills++
  if (r.signal === 'SIGKILL' || r.code !== 0) {
    judgeEnd(sc, 'the resume', await resumeToEnd(sc, runId, p.again ? (lastSeq(sc.h.sb.stateDir, runId) ?? 0) + p.again : undefined), runId)
  }
  await checkRun(sc, {runId, flow: p.flow, start})
}

/** Killed while Route 53 has applied a batch and its answer is held back: the resume must settle it by reading. */
async function killInBatch(sc: Scenario, p: Extract<Plan, {type: 'kill-in-batch'}>): Promise<void> {
  const start = p.flow === 'rollout' ? LEGACY : K8S
  await sc.h.setStart(start)
  // A long lease: its renewals (also change batches) should not take the held answer instead.
  const {run, runId} = await startFlow(sc, sc.h.args(p.flow), {CLIPPER_OPS_LOCK_TTL: '60s'})
  // From the step before the chosen shift, the next change batch's answer is held back 3 s.
  const before = p.flow === 'rollback' ? 'legacy-health' : ['rollback-path', 'shift[10].bake', 'shift[50].bake'][p.batch]
  const at = await waitFor(
    () => (readJournal(sc.h.sb.stateDir, runId).some((e) => e.type === 'step.intent' && e.stepId === before) ? 'there' : run.child.exitCode !== null ? 'ended' : undefined),
    60_000,
    `the step ${before}`,
  )
  if (at === 'there') {
    const weights = (await sc.h.world.read()).weights
    await sc.h.fault('POST', {service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'lateResponse', latencyMs: 3000, count: 1})
    const moved = await waitFor(async () => !sameWeights((await sc.h.world.read()).weights, weights) || run.child.exitCode !== null, 20_000, 'the batch to be applied').catch(
      () => false,
    )
    if (moved && run.child.exitCode === null) {
      run.child.kill('SIGKILL')
      sc.kills++
    }
  }
  const r = await run.done
  await sc.h.fault('DELETE')
  if (r.signal === 'SIGKILL') judgeEnd(sc, 'the resume', await resumeToEnd(sc, runId), runId)
  else judgeEnd(sc, p.flow, r, runId)
  await checkRun(sc, {runId, flow: p.flow, start})
}

async function apiFaults(sc: Scenario, p: Extract<Plan, {type: 'api-faults'}>): Promise<number> {
  const start = p.flow === 'rollout' ? LEGACY : K8S
  await sc.h.setStart(start)
  for (const rule of p.rules) await sc.h.fault('POST', rule)
  const {run, runId} = await startFlow(sc, sc.h.args(p.flow))
  const r = await run.done
  await sc.h.fault('DELETE')
  const injected = (await sc.h.sb.requests(sc.since)).filter((x) => x.fault).length
  // Under faults a run may fail (and roll back) or stop; it must never crash, and a resume finishes it.
  let end = r
  if (r.code === 130 || r.code === 1) {
    const show = JSON.parse((await sc.h.cli(sc, ['runs', 'show', runId, '--json', '--state-dir', sc.h.sb.stateDir])).stdout) as {status: string}
    if (show.status === 'interrupted') end = await resumeToEnd(sc, runId)
  }
  if (end.code !== 0 && end.code !== 1) sc.fail(`${p.flow} under faults exited ${end.code}: ${end.stderr.slice(-400)}`)
  await checkRun(sc, {runId, flow: p.flow, start})
  return injected
}

async function secondOperator(sc: Scenario, p: Extract<Plan, {type: 'second-operator'}>): Promise<void> {
  await sc.h.setStart(LEGACY)
  const {run, runId} = await startFlow(sc, sc.h.args('rollout'))
  await waitFor(() => (lastSeq(sc.h.sb.stateDir, runId) ?? 0) >= p.atSeq || run.child.exitCode !== null, 60_000, 'the moment the second operator starts')
  if (p.killFirst && run.child.exitCode === null) {
    run.child.kill('SIGKILL')
    sc.kills++
  }
  const before = (await sc.h.world.read()).weights
  const other = await sc.h.cli(sc, sc.h.args(p.other, sc.h.stateB))
  const first = await run.done
  const endedAt = (id: string, dir: string) => JSON.parse(readFileSync(join(dir, 'runs', id, 'state.json'), 'utf8')) as {createdAt: string; endedAt?: string}
  if (other.code === 0) {
    // Only right when A had finished (and let go of the lock) before B began.
    const b = endedAt(sc.h.newestRun(sc.h.stateB)!.split('/').at(-1)!, sc.h.stateB)
    const a = endedAt(runId, sc.h.sb.stateDir)
    if (!a.endedAt || a.endedAt > b.createdAt) return sc.fail(`the second operator's ${p.other} succeeded while the first held the lock`)
    judgeEnd(sc, "the first operator's rollout", first, runId)
    return void (await checkRun(sc, {runId, flow: 'rollout', start: LEGACY, live: p.other === 'rollout' ? K8S : LEGACY}))
  }
  if (!/lock|held/i.test(other.stderr)) sc.fail(`the second operator was refused without naming the lock: ${other.stderr.slice(0, 300)}`)
  if (p.killFirst) {
    if (!sameWeights((await sc.h.world.read()).weights, before)) sc.fail('the refused second operator changed the weights')
    judgeEnd(sc, "the first operator's resume", await resumeToEnd(sc, runId), runId)
  } else judgeEnd(sc, "the first operator's rollout", first, runId)
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY})
  checkNoSecrets(sc, sc.h.stateB)
}

/**
 * How a run says it stopped for someone else's edit: the engine's check before a step, the shift's
 * comparison of its read with where the run left the weights, or Route 53 refusing its batch.
 */
const REFUSED_EDIT = /not where this run left it|someone else changed them since|someone else's edit\?/

/** A colleague moves the weights with the AWS CLI mid-run: the run must not overrule them. */
async function outOfBand(sc: Scenario, p: Extract<Plan, {type: 'out-of-band'}>): Promise<void> {
  await sc.h.setStart(LEGACY)
  const {run, runId} = await startFlow(sc, sc.h.args('rollout'))
  await waitFor(() => (lastSeq(sc.h.sb.stateDir, runId) ?? 0) >= p.atSeq || run.child.exitCode !== null, 60_000, 'the moment of the edit')
  if (run.child.exitCode !== null) return void (await checkRun(sc, {runId, flow: 'rollout', start: LEGACY}))
  // Through the sandbox's Route 53, as the AWS CLI would: if it lands during our own batch, one
  // of the two is refused (CONCURRENT_EDIT), and the run must not overrule the edit either way.
  await sc.h.world.setWeights(p.to, true)
  const r = await run.done
  if (r.code === 0) {
    // Only right if the run made no change after the edit (the edit came after its last shift).
    const after = (await sc.h.sb.requests(new Date(Date.now() - 120_000).toISOString())).filter(
      (x) => x.operation === 'ChangeResourceRecordSets' && x.status === 200 && x.changes?.some((c) => c.includes(' clpr.tv. A ')),
    )
    if (!sameWeights((await sc.h.world.read()).weights, p.to)) sc.fail(`the run went on over the edit (${fmt(p.to)}) and succeeded; ${after.length} batches`)
  } else if (r.code !== 1 || !REFUSED_EDIT.test(r.stderr)) sc.fail(`after the edit the run exited ${r.code}: ${r.stderr.slice(-400)}`)
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY, live: p.to, mayStop: true})
}

/** The issue's broken-lock case: after an unlock --force and a rollback, the first run never acts again. */
async function brokenLock(sc: Scenario): Promise<void> {
  await sc.h.setStart(LEGACY)
  const {run, runId} = await startFlow(sc, sc.h.args('rollout', undefined, undefined, '4s'))
  await waitFor(
    () => readJournal(sc.h.sb.stateDir, runId).some((e) => e.type === 'step.intent' && e.stepId === 'shift[10].bake') || run.child.exitCode !== null,
    60_000,
    'the first bake',
  )
  const broken = await sc.h.cli(sc, ['runs', 'unlock', 'sandbox', '--force', '--reason', 'chaos: taking over', '--state-dir', sc.h.stateB, '--config', sc.h.sb.status.config])
  if (broken.code !== 0 || !broken.stderr.includes('ALIVE')) sc.fail(`unlock --force of a live holder: exit ${broken.code}, did not say ALIVE: ${broken.stderr.slice(0, 300)}`)
  const back = await sc.h.cli(sc, sc.h.args('rollback', sc.h.stateB))
  if (back.code !== 0) sc.fail(`the operator's rollback exited ${back.code}: ${back.stderr.slice(-300)}`)
  const r = await run.done
  if (r.code === 0) sc.fail('the run whose lock was broken exited 0')
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY, live: LEGACY, mayStop: true})
}

/** A rollout from all-legacy, SIGKILLed as it begins `stepId` (or wherever it is if it ended first). */
async function rolloutKilledAt(sc: Scenario, stepId: string, steps?: string): Promise<string> {
  await sc.h.setStart(LEGACY)
  const {run, runId} = await startFlow(sc, sc.h.args('rollout', undefined, steps))
  await waitFor(
    () => readJournal(sc.h.sb.stateDir, runId).some((e) => e.type === 'step.intent' && e.stepId === stepId) || run.child.exitCode !== null,
    60_000,
    `the intent of ${stepId}`,
  )
  run.child.kill('SIGKILL')
  if ((await run.done).signal === 'SIGKILL') sc.kills++
  return runId
}

/** Found by the campaign: the first shift overruled an edit made after the preflight read the weights. */
async function editBeforeFirstShift(sc: Scenario): Promise<void> {
  const runId = await rolloutKilledAt(sc, 'rollback-path')
  const edit = {legacy: 70, kubernetes: 30}
  await sc.h.world.setWeights(edit, true)
  const resumed = await sc.h.cli(sc, ['runs', 'resume', runId, '--yes', '--state-dir', sc.h.sb.stateDir])
  if (resumed.code !== 1 || !REFUSED_EDIT.test(resumed.stderr)) sc.fail(`the resume after the edit exited ${resumed.code}: ${resumed.stderr.slice(-300)}`)
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY, live: edit, mayStop: true})
}

/**
 * Found by the campaign: with every answer lost, a rollout cannot even learn that its lock CREATE
 * went through. It must stop (exit 1), change no weight, and leave no lock.
 */
async function lostAnswers(sc: Scenario): Promise<number> {
  await sc.h.setStart(LEGACY)
  await sc.h.fault('POST', {service: 'route53', operation: '*', kind: 'lostResponse', probability: 1})
  const r = await sc.h.cli(sc, sc.h.args('rollout'))
  await sc.h.fault('DELETE')
  if (r.code !== 1) sc.fail(`a rollout with every answer lost exited ${r.code}: ${r.stderr.slice(-300)}`)
  const {weights, lock} = await sc.h.world.read()
  if (!sameWeights(weights, LEGACY)) sc.fail(`the weights moved to ${fmt(weights)}`)
  if (lock) sc.fail(`a lock was left: run ${lockHolder(lock)?.runId ?? '?'}`)
  checkNoSecrets(sc, sc.h.sb.stateDir)
  return (await sc.h.sb.requests(sc.since)).filter((x) => x.fault).length
}

/** The issue's stale-resume case: a resume after someone else rolled back leaves their rollback. */
async function staleResume(sc: Scenario): Promise<void> {
  const runId = await rolloutKilledAt(sc, 'shift[50].ttl', '50,100')
  await sc.h.cli(sc, ['runs', 'unlock', 'sandbox', '--force', '--reason', 'chaos: the laptop died', '--state-dir', sc.h.stateB, '--config', sc.h.sb.status.config])
  const back = await sc.h.cli(sc, sc.h.args('rollback', sc.h.stateB))
  if (back.code !== 0) sc.fail(`the rollback exited ${back.code}: ${back.stderr.slice(-300)}`)
  const resumed = await sc.h.cli(sc, ['runs', 'resume', runId, '--yes', '--state-dir', sc.h.sb.stateDir])
  if (resumed.code !== 1 || !resumed.stderr.includes('not where it left it')) sc.fail(`the stale resume exited ${resumed.code}: ${resumed.stderr.slice(-300)}`)
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY, live: LEGACY, mayStop: true})
}

/** Damaged state after a kill: torn or damaged lines, a half-written or empty state.json, a deleted run, a 50 MB line. */
async function corrupt(sc: Scenario, p: Extract<Plan, {type: 'corrupt'}>): Promise<void> {
  const sd = sc.h.sb.stateDir
  await sc.h.setStart(LEGACY)
  const {run, runId} = await startFlow(sc, sc.h.args('rollout'), {CLIPPER_OPS_CHAOS_KILL_AT: String(p.seq)})
  const r = await run.done
  if (r.signal !== 'SIGKILL') return void (r.code === 0 ? await checkRun(sc, {runId, flow: 'rollout', start: LEGACY}) : sc.fail(`rollout exited ${r.code}`))
  sc.kills++
  const dir = join(sd, 'runs', runId)
  const journal = join(dir, 'journal.jsonl')
  const state = join(dir, 'state.json')
  const refusedClearly = async (res: CliResult, file: string) => {
    if (res.code !== 1 && res.code !== 2) sc.fail(`${p.how}: exit ${res.code}, expected a refusal`)
    if (!res.stderr.includes(file)) sc.fail(`${p.how}: the refusal does not name ${file}: ${res.stderr.slice(0, 300)}`)
  }
  switch (p.how) {
    case 'torn-line': {
      // A write cut short by the crash: half of one more entry, no newline.
      appendFileSync(journal, '{"type":"step.note","stepId":"x","seq":9999,"at":"2026')
      break
    }
    case 'half-state':
      truncateSync(state, Math.floor(statSync(state).size / 2))
      break
    case 'empty-state':
      truncateSync(state, 0)
      break
    case 'deleted-run': {
      rmSync(dir, {recursive: true, force: true})
      const res = await sc.h.cli(sc, ['runs', 'resume', runId, '--yes', '--state-dir', sd])
      if (res.code !== 2 || !res.stderr.includes(`No run "${runId}"`)) sc.fail(`resume of a deleted run: exit ${res.code}: ${res.stderr.slice(0, 300)}`)
      await listsStill(sc)
      // Its lock outlives it: the operator breaks it on purpose, then the next run starts from the world as it is.
      const broken = await sc.h.cli(sc, [
        'runs',
        'unlock',
        'sandbox',
        '--force',
        '--reason',
        'chaos: the run directory is gone',
        '--state-dir',
        sd,
        '--config',
        sc.h.sb.status.config,
      ])
      if (broken.code !== 0) sc.fail(`unlock after a deleted run: exit ${broken.code}: ${broken.stderr.slice(0, 300)}`)
      const next = await startFlow(sc, sc.h.args('rollout'))
      judgeEnd(sc, 'the next rollout after a deleted run', await next.run.done, next.runId)
      return void (await checkRun(sc, {runId: next.runId, flow: 'rollout', start: LEGACY}))
    }
    case 'damaged-line':
    case 'huge-line': {
      const lines = readFileSync(journal, 'utf8').split('\n')
      const at = Math.max(1, Math.floor(lines.length / 2))
      lines.splice(at, 0, p.how === 'huge-line' ? `{"type":"step.note","detail":"${'x'.repeat(50 * 1024 * 1024)}` : '{"type": "step.succ')
      writeFileSync(journal, lines.join('\n'))
      const res = await sc.h.cli(sc, ['runs', 'resume', runId, '--yes', '--state-dir', sd])
      await refusedClearly(res, journal)
      // Showing it may still work from the snapshot; if it refuses, it says which file.
      const shown = await sc.h.cli(sc, ['runs', 'show', runId, '--state-dir', sd])
      if (shown.code !== 0) await refusedClearly(shown, journal)
      await listsStill(sc, runId)
      // The world is where the dead run left it, the lock is its: the operator takes over by hand.
      await sc.h.world.clearLock()
      rmSync(dir, {recursive: true, force: true})
      return
    }
  }
  judgeEnd(sc, `the resume after ${p.how}`, await resumeToEnd(sc, runId), runId)
  await listsStill(sc, runId)
  await checkRun(sc, {runId, flow: 'rollout', start: LEGACY})
}

/** runs list works and lists the runs (the damaged one too, when given). */
async function listsStill(sc: Scenario, runId?: string): Promise<void> {
  const list = await sc.h.cli(sc, ['runs', 'list', '--json', '--state-dir', sc.h.sb.stateDir])
  if (list.code !== 0) return sc.fail(`runs list exited ${list.code}: ${list.stderr.slice(0, 300)}`)
  const {runs} = JSON.parse(list.stdout) as {runs: {id: string}[]}
  if (runs.length === 0) sc.fail('runs list lists nothing')
  if (runId && !runs.some((x) => x.id === runId)) sc.fail(`runs list does not list ${runId}`)
}

/** The issue's redaction case: the AWS secret key is a word of the paths the run uses. */
async function secretInPath(sc: Scenario, p: Extract<Plan, {type: 'secret-in-path'}>): Promise<void> {
  const start = p.flow === 'rollout' ? LEGACY : K8S
  await sc.h.setStart(start)
  const word = 'sandbox'
  const {run, runId} = await startFlow(sc, sc.h.args(p.flow), {AWS_SECRET_ACCESS_KEY: word})
  const r = await run.done
  judgeEnd(sc, `with AWS_SECRET_ACCESS_KEY=${word} the ${p.flow}`, r, runId)
  await checkRun(sc, {runId, flow: p.flow, start})
}

// --- malformed input: exit 2, nothing changed ------------------------------------------------------

function malformedCases(h: Harness): {label: string; args: string[]; says: string; setup?: () => void}[] {
  const dir = join(h.sb.cwd, 'chaos-input')
  mkdirSync(dir, {recursive: true})
  const file = (name: string, text: string | Buffer) => {
    const f = join(dir, name)
    writeFileSync(f, text)
    return f
  }
  const cfg = h.sb.status.config
  const base = ['--env', 'sandbox', '--yes', '--state-dir', h.sb.stateDir]
  const rb = (name: string) => join(FIXTURES, 'bad-runbooks', name)
  const badCfg = (name: string) => join(FIXTURES, 'bad-configs', name)
  const fifo = join(dir, 'fifo.yaml')
  return [
    {label: 'steps over 100', args: ['rollout', ...base, '--config', cfg, '--steps', '10,300'], says: '--steps'},
    {label: 'steps in hex and exponent', args: ['rollout', ...base, '--config', cfg, '--steps', '0x10,1e2'], says: '--steps'},
    {label: 'negative bake', args: ['rollout', ...base, '--config', cfg, '--bake', '-5s'], says: '--bake'},
    {label: 'unknown environment', args: ['rollout', '--env', 'nope', '--yes', '--state-dir', h.sb.stateDir, '--config', cfg], says: 'nope'},
    {label: 'environment __proto__', args: ['rollout', '--env', '__proto__', '--yes', '--state-dir', h.sb.stateDir, '--config', cfg], says: '__proto__'},
    {label: 'environment constructor', args: ['rollback', '--env', 'constructor', '--yes', '--state-dir', h.sb.stateDir, '--config', cfg], says: 'constructor'},
    {label: 'unknown flag', args: ['rollout', ...base, '--config', cfg, '--frobnicate'], says: '--frobnicate'},
    {label: 'config that is not YAML', args: ['rollout', ...base, '--config', badCfg('binary-file.yaml')], says: 'binary-file.yaml'},
    {label: 'config alias bomb', args: ['rollback', ...base, '--config', badCfg('alias-bomb.yaml')], says: 'alias-bomb.yaml'},
    {label: 'config deep nesting', args: ['rollout', ...base, '--config', badCfg('deep-nesting.yaml')], says: 'deep-nesting.yaml'},
    {label: 'config 6 MB', args: ['rollout', ...base, '--config', file('huge.yaml', `version: 1\n# ${'x'.repeat(6 * 1024 * 1024)}\n`)], says: 'huge.yaml'},
    {label: 'config is a FIFO', args: ['rollback', ...base, '--config', fifo], says: 'fifo.yaml', setup: () => existsSync(fifo) || execFileSync('mkfifo', [fifo])},
    {label: 'config is a directory', args: ['rollout', ...base, '--config', dir], says: 'chaos-input'},
    {label: 'config with a gate of unknown kind', args: ['rollout', ...base, '--config', badCfg('gate-unknown-kind.yaml')], says: 'gate-unknown-kind.yaml'},
    {label: 'config with a rollout step over 100', args: ['rollout', ...base, '--config', badCfg('rollout-step-over-100.yaml')], says: 'rollout-step-over-100.yaml'},
    {label: 'config with a negative TTL', args: ['rollout', ...base, '--config', badCfg('ttl-negative.yaml')], says: 'ttl-negative.yaml'},
    {label: 'runbook not YAML', args: ['run', file('garbage.yaml', Buffer.from([0, 1, 2, 255, 254, 0, 10])), ...base, '--config', cfg], says: 'garbage.yaml'},
    {label: 'runbook nested forEach', args: ['run', rb('nested-foreach.yaml'), ...base, '--config', cfg], says: 'nested-foreach.yaml'},
    {label: 'runbook unknown step kind', args: ['run', rb('unknown-step-kind.yaml'), ...base, '--config', cfg], says: 'unknown-step-kind.yaml'},
    {label: 'runbook too many steps', args: ['run', rb('too-many-steps.yaml'), ...base, '--config', cfg], says: 'too-many-steps.yaml'},
    {
      label: 'runbook weight over 255',
      args: ['run', file('weight.yaml', 'version: 1\nname: heavy\nsteps:\n  - id: w\n    uses: dns-weights\n    with: {legacy: 300, kubernetes: 0}\n'), ...base, '--config', cfg],
      says: 'weight',
    },
    {label: 'resume of an unknown run', args: ['runs', 'resume', '20200101-000000-nope', '--yes', '--state-dir', h.sb.stateDir], says: '20200101-000000-nope'},
  ]
}

async function malformed(sc: Scenario, p: Extract<Plan, {type: 'malformed'}>): Promise<string> {
  const cases = malformedCases(sc.h)
  const c = cases[p.index % cases.length]!
  await sc.h.setStart(LEGACY)
  c.setup?.()
  const runsBefore = runIdsIn(sc.h.sb.stateDir).size
  const r = await sc.h.cli(sc, c.args)
  if (r.code !== 2) sc.fail(`${c.label}: exit ${r.code}, expected 2: ${r.stderr.slice(0, 300)}`)
  if (!r.stderr.includes(c.says)) sc.fail(`${c.label}: the error does not name ${c.says}: ${r.stderr.slice(0, 300)}`)
  const mutating = (await sc.h.sb.requests(sc.since, true)).filter((x) => x.service !== 'sts')
  if (mutating.length) sc.fail(`${c.label}: ${mutating.length} mutating AWS call(s) (${mutating[0]!.operation})`)
  if (runIdsIn(sc.h.sb.stateDir).size !== runsBefore) sc.fail(`${c.label}: a run was created`)
  if ((await sc.h.world.read()).lock) sc.fail(`${c.label}: a lock was left`)
  checkNoSecrets(sc, sc.h.sb.stateDir)
  return c.label
}

// --- planning and running a campaign ---------------------------------------------------------------

const FAULT_KINDS: FaultKind[] = ['throttle', 'priorRequestNotComplete', 'http500', 'http503', 'latency', 'drop', 'lostResponse']
const ROUTE53_OPS = ['ChangeResourceRecordSets', 'GetChange', 'ListResourceRecordSets', '*']

export interface CampaignOptions {
  seed: number
  scenarios: number
  /** Walk every journal entry of the cutover and the rollback as a kill point (the full campaign). */
  sweep: boolean
  /** Run only these scenario numbers (a replay). */
  only?: number[]
  /** Run every n-th scenario from the i-th (0-based): shards of one campaign on several sandboxes. */
  shard?: {i: number; n: number}
  log?: (line: string) => void
}

export async function planCampaign(h: Harness, o: CampaignOptions): Promise<Plan[]> {
  const r = rng(o.seed)
  const plans: Plan[] = []
  if (o.sweep) {
    for (const flow of ['rollout', 'rollback'] as const) {
      const n = await h.eventsOf(flow)
      o.log?.(`kill sweep: a whole ${flow} writes ${n} journal entries`)
      for (let seq = 2; seq <= n; seq++) plans.push({type: 'kill-at', flow, seq, ...(r() < 0.25 ? {again: between(r, 1, 12)} : {})})
    }
  }
  const malformedCount = malformedCases(h).length
  // The issue's regressions (test/traffic/crash.test.ts has the first two in npm test), then a seeded mix.
  // The campaign's own finds after them: an edit between the preflight and the first shift, and a run
  // whose every Route 53 answer is lost (it left its lock).
  if (o.sweep) {
    plans.push({type: 'broken-lock'}, {type: 'stale-resume'}, {type: 'secret-in-path', flow: pick(r, ['rollout', 'rollback'])}, {type: 'edit-before-first-shift'})
    plans.push({type: 'lost-answers'})
  }
  for (let i = 0; plans.length < o.scenarios; i++) {
    const flow = pick(r, ['rollout', 'rollback'] as const)
    const x = r()
    if (x < 0.18) plans.push({type: 'kill-at', flow, seq: between(r, 2, flow === 'rollout' ? 56 : 27), ...(r() < 0.3 ? {again: between(r, 1, 10)} : {})})
    else if (x < 0.3) plans.push({type: 'kill-random', flow, afterMs: between(r, 200, flow === 'rollout' ? 11_000 : 8_000), ...(r() < 0.3 ? {again: between(r, 1, 10)} : {})})
    else if (x < 0.4) plans.push({type: 'kill-in-batch', flow, batch: flow === 'rollout' ? between(r, 0, 2) : 0})
    else if (x < 0.52) {
      const rules = Array.from({length: between(r, 1, 3)}, () => {
        const kind = pick(r, FAULT_KINDS)
        return {
          service: 'route53',
          operation: pick(r, ROUTE53_OPS),
          kind,
          probability: Math.round((0.05 + r() * 0.3) * 100) / 100,
          ...(kind === 'latency' ? {latencyMs: between(r, 50, 1500)} : {}),
        }
      })
      plans.push({type: 'api-faults', flow, rules})
    } else if (x < 0.58) plans.push({type: 'second-operator', other: pick(r, ['rollout', 'rollback'] as const), atSeq: between(r, 3, 50), killFirst: r() < 0.4})
    else if (x < 0.64)
      plans.push({type: 'out-of-band', atSeq: between(r, 12, 50), to: pick(r, [LEGACY, {legacy: 70, kubernetes: 30}, {legacy: 0, kubernetes: 100}, {legacy: 95, kubernetes: 5}])})
    else if (x < 0.74)
      plans.push({type: 'corrupt', how: pick(r, ['torn-line', 'half-state', 'empty-state', 'deleted-run', 'damaged-line', 'huge-line'] as const), seq: between(r, 4, 50)})
    else plans.push({type: 'malformed', index: between(r, 0, malformedCount - 1)})
  }
  return plans
}

export function describePlan(p: Plan): string {
  switch (p.type) {
    case 'kill-at':
      return `${p.flow}: SIGKILL after journal entry ${p.seq}${p.again ? `, its resume ${p.again} entries later` : ''}`
    case 'kill-random':
      return `${p.flow}: SIGKILL after ${p.afterMs} ms${p.again ? `, its resume at entry +${p.again}` : ''}`
    case 'kill-in-batch':
      return `${p.flow}: SIGKILL while Route 53 holds the answer to shift batch ${p.batch + 1}`
    case 'api-faults':
      return `${p.flow} under ${p.rules.map((x) => `${x.kind}${x.latencyMs ? `:${x.latencyMs}ms` : ''}@${x.operation}×${x.probability}`).join(', ')}`
    case 'second-operator':
      return `second operator's ${p.other} at entry ${p.atSeq}${p.killFirst ? ', the first one killed' : ''}`
    case 'out-of-band':
      return `a colleague sets ${fmt(p.to)} at entry ${p.atSeq}`
    case 'corrupt':
      return `${p.how} after a kill at entry ${p.seq}`
    case 'secret-in-path':
      return `${p.flow} with AWS_SECRET_ACCESS_KEY=sandbox (a word of its paths)`
    case 'edit-before-first-shift':
      return 'a colleague sets 70/30 between the preflight and the first shift (the run killed there, then resumed)'
    case 'lost-answers':
      return 'rollout while every Route 53 answer is lost (each request applied, its answer never read)'
    case 'malformed':
      return `malformed input #${p.index}`
    default:
      return p.type
  }
}

export async function runScenario(h: Harness, n: number, plan: Plan): Promise<ScenarioResult> {
  const sc = new Scenario(h)
  const t = Date.now()
  let faults = 0
  let label = describePlan(plan)
  try {
    switch (plan.type) {
      case 'kill-at':
        await killAt(sc, plan)
        break
      case 'kill-random':
        await killRandom(sc, plan)
        break
      case 'kill-in-batch':
        await killInBatch(sc, plan)
        break
      case 'api-faults':
        faults = await apiFaults(sc, plan)
        break
      case 'second-operator':
        await secondOperator(sc, plan)
        break
      case 'out-of-band':
        await outOfBand(sc, plan)
        break
      case 'broken-lock':
        await brokenLock(sc)
        break
      case 'stale-resume':
        await staleResume(sc)
        break
      case 'edit-before-first-shift':
        await editBeforeFirstShift(sc)
        break
      case 'lost-answers':
        faults = await lostAnswers(sc)
        break
      case 'corrupt':
        await corrupt(sc, plan)
        break
      case 'secret-in-path':
        await secretInPath(sc, plan)
        break
      case 'malformed':
        label = `malformed: ${await malformed(sc, plan)}`
        break
    }
  } catch (error) {
    sc.fail(`the scenario itself failed: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`)
  }
  // Let the background output handlers settle, then clean up what a scenario may leave.
  await new Promise((r) => setTimeout(r, 50))
  await h.fault('DELETE').catch(() => undefined)
  // Faults that fired in a scenario other than api-faults (the held batch answer) count too.
  if (plan.type === 'kill-in-batch') faults = 1
  return {n, plan, label, kills: sc.kills, faults, gateFailures: sc.gateFailures, violations: sc.violations, ms: Date.now() - t}
}

export async function runCampaign(h: Harness, o: CampaignOptions): Promise<{results: ScenarioResult[]; table: string}> {
  const plans = await planCampaign(h, o)
  const results: ScenarioResult[] = []
  for (const [i, plan] of plans.entries()) {
    if (o.only && !o.only.includes(i + 1)) continue
    if (o.shard && i % o.shard.n !== o.shard.i) continue
    const res = await runScenario(h, i + 1, plan)
    results.push(res)
    o.log?.(
      `${String(i + 1).padStart(4)}/${plans.length} ${res.violations.length ? 'VIOLATION' : res.gateFailures ? 'ok (gate)' : 'ok       '} ${(res.ms / 1000).toFixed(1).padStart(5)}s  ${res.label}${res.violations.map((v) => `\n           ✗ ${v}`).join('')}`,
    )
  }
  return {results, table: summaryTable(results, o.seed)}
}

export function summaryTable(results: ScenarioResult[], seed: number): string {
  const byType = new Map<string, ScenarioResult[]>()
  for (const r of results) byType.set(r.plan.type, [...(byType.get(r.plan.type) ?? []), r])
  const row = (name: string, rs: ScenarioResult[]) =>
    `| ${name.padEnd(23)} | ${String(rs.length).padStart(9)} | ${String(rs.reduce((a, r) => a + (r.violations.length ? 0 : r.kills), 0)).padStart(14)} | ${String(rs.reduce((a, r) => a + r.faults, 0)).padStart(15)} | ${String(rs.reduce((a, r) => a + r.gateFailures, 0)).padStart(15)} | ${String(rs.reduce((a, r) => a + r.violations.length, 0)).padStart(20)} |`
  return [
    `Chaos campaign, seed ${seed}: ${results.length} scenarios in ${Math.round(results.reduce((a, r) => a + r.ms, 0) / 1000)} s`,
    '',
    '| scenario                | scenarios | kills survived | faults injected | stopped by gate | invariant violations |',
    '|-------------------------|-----------|----------------|-----------------|-----------------|----------------------|',
    ...[...byType.entries()].map(([k, rs]) => row(k, rs)),
    row('total', results),
  ].join('\n')
}
