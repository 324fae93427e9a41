/**
 * Crash safety of the traffic shift: the CLI is SIGKILLed before, during and after a change
 * batch, then `runs resume`d. The records must end where the runbook meant, with exactly one
 * change batch per step (the sandbox's request log says what every batch touched), and the dead
 * run takes its own Route 53 lock back. A dead run's expired lock is broken only on purpose.
 */
import {readFileSync} from 'node:fs'
import {describe, expect, test} from 'vitest'
import {waitFor, waitForJournal} from '../helpers/cli.js'
import {liveWeights, shiftBatches, shiftCreates, startRunInBackground} from '../helpers/traffic.js'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox({ttl: 1, changeDelayMs: 1500})

const startRollout = (env: NodeJS.ProcessEnv = {}) => startRunInBackground(sandbox(), ['rollout', '--env', 'sandbox', '--steps', '50,100', '--bake', '1s'], env)

const KILL_POINTS: [string, (e: {type: string; stepId?: string; detail?: Record<string, unknown>}) => boolean][] = [
  ['as the 50% shift records its intent (before or while the batch is sent)', (e) => e.type === 'step.intent' && e.stepId === 'shift[50].weights'],
  ['after Route 53 accepted the batch, while waiting for INSYNC', (e) => e.type === 'step.note' && e.stepId === 'shift[50].weights' && Boolean(e.detail?.changeId)],
  ['after the shift, while waiting out the TTL', (e) => e.type === 'step.intent' && e.stepId === 'shift[50].ttl'],
]

describe('SIGKILL during a traffic shift, then runs resume', () => {
  test.each(KILL_POINTS)('killed %s: the records end as meant, one batch per step', {timeout: 120_000}, async (_label, when) => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const since = new Date().toISOString()
    const run = await startRollout()
    await waitForJournal(sb.stateDir, run.runId, when as never, run)
    run.child.kill('SIGKILL')
    expect((await run.done).signal).toBe('SIGKILL')

    const resumed = await sb.cli(['runs', 'resume', run.runId, '--json'], {timeoutMs: 120_000})
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    const out = JSON.parse(resumed.stdout)
    expect(out.status).toBe('succeeded')
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    const batches = await shiftBatches(sb, since)
    expect(batches.map((b) => b.changes!.filter((c) => c.startsWith('CREATE clpr.tv.')))).toEqual([
      ['CREATE clpr.tv. A compose w=50', 'CREATE clpr.tv. A k8s w=50'],
      ['CREATE clpr.tv. A compose w=0', 'CREATE clpr.tv. A k8s w=100'],
    ])
    const audit = readFileSync(`${sb.stateDir}/audit.jsonl`, 'utf8')
    expect(audit).toContain(`"action":"lock.taken-over","scope":"sandbox","runId":"${run.runId}"`)
    // The report's changes are what changed the world: both shifts (the 50% one even when the
    // resume found it in place), and no read (preflight checks, gates, waits).
    const report = readFileSync(out.reports.markdown, 'utf8')
    const changes = report.slice(report.indexOf('## Changes made'))
    expect(changes).toContain('**Set weights legacy 50 / kubernetes 50**')
    expect(changes).toContain('update clpr.tv. A [k8s] weight 0 → 50')
    expect(changes).toContain('update clpr.tv. A [k8s] weight 50 → 100')
    expect(changes).not.toMatch(/Preflight|Bake|Wait out/)
    expect(out.world).toEqual([expect.objectContaining({kind: 'dns-weights', data: {record: 'clpr.tv.', weights: {legacy: 0, kubernetes: 100}}})])
  })

  test('a run whose lock was broken never acts again: traffic ends where the operator holding the lock put it', {timeout: 180_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const since = new Date().toISOString()
    // A long bake: breaking the lock and rolling back both happen while the first run bakes, even
    // when CLIs start slowly on a loaded machine.
    const run = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '10,50,100', '--bake', '12s'])
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[10].bake', run)
    // The holder is alive: breaking its lock says so loudly.
    const broken = await sb.cli(['runs', 'unlock', 'sandbox', '--force', '--reason', 'test: taking over from a stuck rollout'])
    expect(broken.code, broken.stderr).toBe(0)
    expect(broken.stderr).toContain('looked ALIVE')
    const back = await sb.cli(['rollback', '--env', 'sandbox', '--yes'], {timeoutMs: 120_000})
    expect(back.code, back.stderr).toBe(0)
    const r = await run.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toMatch(/lock lost: the lock was (removed|taken over)/)
    expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
    // The first run sent its 10% batch and nothing after it; the rollback sent one.
    const batches = await shiftCreates(sb, since)
    expect(batches).toEqual([
      ['CREATE clpr.tv. A compose w=90', 'CREATE clpr.tv. A k8s w=10'],
      ['CREATE clpr.tv. A compose w=100', 'CREATE clpr.tv. A k8s w=0'],
    ])
  })

  test('a lock broken while the change batch is on its way: Route 53 refuses the whole batch (the lease rides in it)', {timeout: 180_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const run = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s'])
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'rollback-path', run)
    // From here, change batches are held 6 s at the front (room for a CLI to start on a loaded
    // machine): the shift, sent after the run proved its lease, is on its way when the lock is
    // broken. (The control API: no CLI start-up delay.)
    const faults = `${sb.status.awsEndpoint}/_sandbox/faults`
    const rule = {service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'latency', latencyMs: 6000}
    await fetch(faults, {method: 'POST', body: JSON.stringify(rule), headers: {'content-type': 'application/json'}})
    const since = new Date(Date.now() - 5000).toISOString()
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[100].weights', run)
    await waitFor(async () => (await sb.requests(since)).some((e) => e.operation === 'ChangeResourceRecordSets' && e.status === 0), 20_000, 'the shift batch in flight')
    await fetch(faults, {method: 'DELETE'})
    // Meanwhile another operator breaks the lock (this batch is not held).
    const broken = await sb.cli(['runs', 'unlock', 'sandbox', '--force', '--reason', 'test: breaking the lock mid-batch'])
    expect(broken.code, broken.stderr).toBe(0)
    const r = await run.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toMatch(/lock lost: the lock was removed/)
    expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
    const refused = (await sb.requests(since)).filter((e) => e.operation === 'ChangeResourceRecordSets' && e.changes?.some((c) => c.includes(' clpr.tv. A ')))
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.every((e) => e.status === 400)).toBe(true)
    expect(refused[0]!.changes).toEqual(expect.arrayContaining(['DELETE _clipper-ops-lock.clpr.tv. TXT', 'CREATE _clipper-ops-lock.clpr.tv. TXT']))
  })

  test('resuming a killed rollout after someone else rolled back refuses, and leaves their rollback in place', {timeout: 180_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const since = new Date().toISOString()
    const run = await startRollout()
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[50].ttl', run)
    run.child.kill('SIGKILL')
    await run.done
    expect((await sb.cli(['runs', 'unlock', 'sandbox', '--force', '--reason', 'test: the laptop died'])).code).toBe(0)
    expect((await sb.cli(['rollback', '--env', 'sandbox', '--yes'], {timeoutMs: 120_000})).code).toBe(0)

    const resumed = await sb.cli(['runs', 'resume', run.runId, '--yes', '--json'], {timeoutMs: 120_000})
    expect(resumed.code, resumed.stderr).toBe(1)
    const out = JSON.parse(resumed.stdout)
    expect(out.status).toBe('interrupted')
    expect(out.stopped.reason).toContain('the world is not where it left it')
    expect(out.stopped.reason).toContain('legacy 100')
    expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
    // The 50% shift and the rollback: no batch from the resume.
    expect(await shiftBatches(sb, since)).toHaveLength(2)
  })

  test("a dead run's Route 53 lock expires; another operator is refused until it is broken on purpose", async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const env = {CLIPPER_OPS_LOCK_TTL: '2s'}
    const run = await startRollout(env)
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[50].ttl', run)
    run.child.kill('SIGKILL')
    await run.done
    await new Promise((r) => setTimeout(r, 2500))

    // As another operator elsewhere would see it: the lock is in Route 53, not in a local file.
    const other = await sb.cli(['rollout', '--env', 'sandbox'], {env})
    expect(other.code).toBe(1)
    expect(other.stderr).toContain('EXPIRED')
    expect(other.stderr).toContain(`runs unlock sandbox --force`)
    const noReason = await sb.cli(['runs', 'unlock', 'sandbox', '--force'])
    expect(noReason.code).toBe(2)
    const broken = await sb.cli(['runs', 'unlock', 'sandbox', '--force', '--reason', 'test: the on-call laptop died', '--json'])
    expect(broken.code, broken.stderr).toBe(0)
    expect(JSON.parse(broken.stdout)).toMatchObject({broken: {runId: run.runId}, holderLookedDead: true})
    const audit = readFileSync(`${sb.stateDir}/audit.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(audit.findLast((a) => a.action === 'lock.broken')).toMatchObject({scope: 'sandbox', detail: {reason: 'test: the on-call laptop died'}})
    // The lock record is gone from the zone.
    const log = await sb.requests()
    expect(log.filter((e) => e.changes?.some((c) => c.startsWith('DELETE _clipper-ops-lock.clpr.tv. TXT'))).length).toBeGreaterThan(0)

    const resumed = await sb.cli(['runs', 'resume', run.runId, '--json'], {env, timeoutMs: 120_000})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
  })
})

describe('a concurrent edit', () => {
  test("someone else's edit between our read and our write is refused by Route 53, not overwritten", {timeout: 120_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    // Our change batches are held up for a second at the front; meanwhile a colleague edits the
    // record in the console (straight into the backend).
    await sb.cli(['sandbox', 'fault', '--api', 'route53:ChangeResourceRecordSets', '--latency', '1500ms', '--probability', '1'])
    const run = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s'])
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[100].weights', run)
    // Our batch has been built from what we read and is on its way (held at the front).
    const since = new Date(Date.now() - 5000).toISOString()
    await waitFor(async () => (await sb.requests(since)).some((e) => e.operation === 'ChangeResourceRecordSets' && e.status === 0), 10_000, 'our change batch in flight')
    await colleagueSetsLegacy(sb, 70)
    const r = await run.done
    await sb.cli(['sandbox', 'fault', '--clear'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Route 53 refused the change batch')
    expect(r.stderr).toContain("someone else's edit?")
    expect(r.stderr).toContain('now legacy 70')
    const show = JSON.parse((await sb.cli(['runs', 'show', run.runId, '--json'])).stdout)
    // Not compensated: shifting back would overrule the colleague's edit as well.
    expect(show.failure).toMatchObject({stepId: 'shift[100].weights', code: 'CONCURRENT_EDIT'})
    expect(show.failure.compensated).toBeUndefined()
    expect((await liveWeights(sb)).legacy).toBe(70)
  })

  test('an edit between the preflight and the first shift stops the run: the shift compares with what the preflight found', {timeout: 120_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const run = await startRollout()
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'rollback-path', run)
    run.child.kill('SIGKILL')
    await run.done
    // While nobody runs: the preflight read legacy 100 / kubernetes 0; a colleague sets legacy 70.
    await colleagueSetsLegacy(sb, 70)
    const resumed = await sb.cli(['runs', 'resume', run.runId, '--json'], {timeoutMs: 120_000})
    expect(resumed.code, resumed.stderr).toBe(1)
    expect(resumed.stdout + resumed.stderr).toContain('are legacy 70 (100%), kubernetes 0 (0%), but this run found them at legacy 100 (100%), kubernetes 0 (0%)')
    const show = JSON.parse((await sb.cli(['runs', 'show', run.runId, '--json'])).stdout)
    expect(show.failure).toMatchObject({stepId: 'shift[50].weights', code: 'CONCURRENT_EDIT'})
    expect(await liveWeights(sb)).toEqual({legacy: 70, kubernetes: 0})
  })
})

/** A colleague sets the legacy record's weight in the console: straight into the backend, not through the front. */
async function colleagueSetsLegacy(sb: ReturnType<typeof sandbox>, weight: number): Promise<void> {
  const m = await import('@aws-sdk/client-route-53')
  // After a reset the zone is a new one: read where it is now.
  const now = JSON.parse(readFileSync(`${sb.stateDir}/sandbox/sandbox.json`, 'utf8')) as {motoUrl: string; hostedZoneId: string}
  const moto = new m.Route53Client({region: 'us-east-1', endpoint: now.motoUrl, credentials: {accessKeyId: 'x', secretAccessKey: 'x'}})
  const live = (await moto.send(new m.ListResourceRecordSetsCommand({HostedZoneId: now.hostedZoneId}))).ResourceRecordSets!.filter((r) => r.Name === 'clpr.tv.' && r.SetIdentifier)
  const legacy = live.find((r) => r.SetIdentifier === 'compose')!
  await moto.send(
    new m.ChangeResourceRecordSetsCommand({HostedZoneId: now.hostedZoneId, ChangeBatch: {Changes: [{Action: 'UPSERT', ResourceRecordSet: {...legacy, Weight: weight}}]}}),
  )
}
