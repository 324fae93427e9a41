/**
 * A run the whole on-call team shares (issue 14): state in the sandbox's S3 (moto, through the
 * AWS front — not a mock), two "machines" = two state dirs and two process trees, each with its
 * own CLIPPER_OPS_HOST, sharing the sandbox's S3 and Route 53.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {afterAll, describe, expect, test} from 'vitest'
import {loadConfig} from '../../src/lib/config/load.js'
import {S3RunStore} from '../../src/lib/aws/s3-run-store.js'
import {StateDir, whoAmI, type RunState} from '../../src/lib/engine/state.js'
import {StateConflictError} from '../../src/lib/engine/store.js'
import {S3LockBackend} from '../../src/lib/aws/s3-lock.js'
import {acquireLock, LockHeldError} from '../../src/lib/engine/lock.js'
import {cli, removeDir, tempDir, waitFor, waitForJournal, type CliOptions} from '../helpers/cli.js'
import {liveWeights, shiftBatches, shiftCreates, startRunInBackground} from '../helpers/traffic.js'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox({ttl: 1, changeDelayMs: 1500})
const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))
const scratch = (prefix: string) => {
  const d = tempDir(prefix)
  dirs.push(d)
  return d
}
const TEAM = 'sandbox-team'

function draft(id: string): RunState {
  const now = new Date().toISOString()
  return {
    schema: 1,
    id,
    seq: 0,
    status: 'running',
    runbook: {name: 't', file: 't.yaml', sha256: 'x', builtin: false},
    lockScope: 't',
    params: {},
    protected: false,
    who: whoAmI(),
    createdAt: now,
    updatedAt: now,
    steps: [{id: 'a', specPath: 'steps[0]', kind: 'wait', title: 'a', status: 'pending', attempts: 0, notes: {}}],
    attempts: [],
  }
}

/** Machine B: its own state dir and host name, the sandbox's config (as a team's repository would hold it). */
function machineB(ttl: string) {
  const dir = tempDir('clipper-ops-machine-b-')
  const sb = sandbox()
  const env = {CLIPPER_OPS_HOST: 'machine-b', CLIPPER_OPS_LOCK_TTL: ttl}
  return {
    dir,
    run: (args: string[], o: CliOptions = {}) => cli([...args, '--config', sb.status.config, '--state-dir', join(dir, 's')], {cwd: dir, ...o, env: {...env, ...o.env}}),
  }
}

type AuditRow = {action: string; who: {host: string}; runId?: string; detail?: Record<string, unknown>}

describe('team state in S3', () => {
  test('two writers of one run: exactly one wins each entry, the other is refused with a clear error (moto S3, conditional writes)', async () => {
    const sb = sandbox()
    const environment = (await loadConfig(sb.status.config)).config.environments[TEAM]!
    const a = new S3RunStore(environment.state!, environment, new StateDir(scratch('clipper-ops-a-')))
    const b = new S3RunStore(environment.state!, environment, new StateDir(scratch('clipper-ops-b-')))
    const id = `cas-${Date.now()}`
    const created = await a.create(draft(id), 'version: 1\n')
    await created.append({type: 'run.attempt', pid: 1, user: 'u', host: 'machine-a', resumed: false})
    // A second create of the same run is refused (If-None-Match on its objects).
    await expect(b.create(draft(id), 'version: 1\n')).rejects.toThrow(StateConflictError)

    // Two machines open the run at the same entry and write the next one at the same moment.
    const [wa, wb] = [await a.open(id), await b.open(id)]
    expect(wa.state.seq).toBe(2)
    const results = await Promise.allSettled([
      wa.append({type: 'step.intent', stepId: 'a', attempt: 1, title: 'by a'}),
      wb.append({type: 'step.intent', stepId: 'a', attempt: 1, title: 'by b'}),
    ])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]!.reason).toBeInstanceOf(StateConflictError)
    expect(lost[0]!.reason.message).toMatch(
      /fenced: entry 3 of run cas-\d+'s journal was written by .* first \(s3:\/\/clipper-ops-team-state\/team\/runs\/cas-\d+\/journal\/0000000003\.json\); this process no longer holds the run/,
    )
    const [winner, loser] = results[0]!.status === 'fulfilled' ? [wa, wb] : [wb, wa]
    expect(loser.fenced).toBeTruthy()
    // The loser stays fenced: it never writes this run again.
    await expect(loser.append({type: 'step.succeeded', stepId: 'a', durationMs: 1})).rejects.toThrow(StateConflictError)
    await winner.append({type: 'step.succeeded', stepId: 'a', durationMs: 1})
    const state = await b.load(id)
    expect(state.seq).toBe(4)
    expect(state.steps[0]).toMatchObject({status: 'succeeded', title: results[0]!.status === 'fulfilled' ? 'by a' : 'by b'})
    expect((await a.readJournal(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4])
  })

  test('the lease beside team state (S3, for environments without a Route 53 lock): taken once, renewed by its holder only, handed over only on purpose', async () => {
    const sb = sandbox()
    const environment = (await loadConfig(sb.status.config)).config.environments[TEAM]!
    const backend = new S3LockBackend(environment.state!, environment)
    const scope = `lease-${Date.now()}`
    const a = {user: 'ops', host: 'machine-a', pid: 1}
    const b = {user: 'ops', host: 'machine-b', pid: 2}
    const lostA: string[] = []
    const held = await acquireLock({backend, scope, runId: 'r1', runbook: 'x', who: a, ttlMs: 8000, onLost: (r) => lostA.push(r)})
    held.lock.stop() // A "dies": it renews no more
    expect(backend.where(scope)).toBe(`s3://clipper-ops-team-state/team/locks/${scope}.json`)
    // Alive: refused, with the holder and until when.
    await expect(acquireLock({backend, scope, runId: 'r1', runbook: 'x', who: b, ttlMs: 1500, takeOver: {reason: 'x'}, onLost: () => undefined})).rejects.toThrow(
      /held by ops@machine-a [\s\S]* its lease runs until/,
    )
    await new Promise((r) => setTimeout(r, Date.parse(held.lock.info.expiresAt) - Date.now() + 200))
    // Dead, but another operator's: only with --take-over.
    await expect(acquireLock({backend, scope, runId: 'r1', runbook: 'x', who: b, ttlMs: 60_000, onLost: () => undefined})).rejects.toMatchObject({code: 'LEASE_DEAD'})
    const taken = await acquireLock({backend, scope, runId: 'r1', runbook: 'x', who: b, ttlMs: 60_000, takeOver: {reason: 'A died'}, onLost: () => undefined})
    expect(taken.tookOver?.holder.host).toBe('machine-a')
    expect(taken.lock.info.generation).toBe(2)
    // A comes back: its renewal is refused (If-Match on an ETag that is gone) and it knows it lost the lease.
    await held.lock.renew()
    expect(lostA[0]).toMatch(/the lock was taken over: held by ops@machine-b/)
    await expect(held.lock.verify()).rejects.toThrow(/lock lost/)
    expect(await held.lock.release()).toBe(false)
    expect((await backend.read(scope))?.holder.host).toBe('machine-b')
    // Another run is refused while B holds it; B's release (If-Match) frees it.
    await expect(acquireLock({backend, scope, runId: 'r2', runbook: 'x', who: a, ttlMs: 60_000, onLost: () => undefined})).rejects.toThrow(LockHeldError)
    expect(await taken.lock.release()).toBe(true)
    expect(await backend.read(scope)).toBeUndefined()
  })

  test('machine A is killed mid-shift; B is refused while its lease lives, takes over once it is dead, and ends at 100% with one batch per shift', {timeout: 180_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
    const ttl = '15s'
    const since = new Date().toISOString()
    const a = await startRunInBackground(sb, ['rollout', '--env', TEAM, '--steps', '10,50,100', '--bake', '1s'], {CLIPPER_OPS_HOST: 'machine-a', CLIPPER_OPS_LOCK_TTL: ttl})
    // Route 53 has accepted the 50% batch; A dies while waiting for INSYNC.
    await waitForJournal(sb.stateDir, a.runId, (e) => e.type === 'step.note' && e.stepId === 'shift[50].weights' && Boolean((e.detail as {changeId?: string}).changeId), a)
    a.child.kill('SIGKILL')
    await a.done
    const b = machineB(ttl)
    try {
      const alive = await b.run(['runs', 'resume', a.runId, '--env', TEAM, '--take-over', '--reason', 'too early', '--yes'])
      expect(alive.code, alive.stderr).toBe(1)
      expect(alive.stderr).toMatch(/held by \S+@machine-a \(pid \d+/)
      expect(alive.stderr).toMatch(/its lease runs until \d{4}-\d\d-\d\dT[\d:.]+Z/)
      expect(alive.stderr).toContain('--take-over takes only a dead lease')

      // B finds the run in S3 (its own state dir has never seen it).
      const shown = await b.run(['runs', 'show', a.runId, '--env', TEAM, '--json'])
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({id: a.runId, status: 'running'})

      // Wait for the lease to die (A renews no more).
      const lock = JSON.parse((await b.run(['runs', 'unlock', TEAM, '--json'])).stdout) as {holder: {expiresAt: string}}
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(lock.holder.expiresAt) - Date.now()) + 500))

      const asked = await b.run(['runs', 'resume', a.runId, '--env', TEAM, '--yes'])
      expect(asked.code, asked.stderr).toBe(1)
      expect(asked.stderr).toMatch(/The lease of run \S+ is dead: held by \S+@machine-a \(pid \d+\), last renewed at \S+ \([\d.]+m?s ago\), expired [\d.]+m?s ago/)
      expect(asked.stderr).toContain(`clipper-ops runs resume ${a.runId} --take-over --reason "<why>"`)
      const noReason = await b.run(['runs', 'resume', a.runId, '--env', TEAM, '--take-over', '--yes'])
      expect(noReason.code).toBe(2)
      expect(noReason.stderr).toContain('--take-over needs --reason')

      const took = await b.run(['runs', 'resume', a.runId, '--env', TEAM, '--take-over', '--reason', 'test: machine A died mid-shift', '--yes', '--json'], {timeoutMs: 120_000})
      expect(took.code, took.stderr).toBe(0)
      expect(JSON.parse(took.stdout)).toMatchObject({status: 'succeeded'})
      expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
      // Exactly one change batch per shift: the 50% one A sent was settled by reading the world.
      const batches = await shiftCreates(sb, since)
      expect(batches).toEqual([
        ['CREATE clpr.tv. A compose w=90', 'CREATE clpr.tv. A k8s w=10'],
        ['CREATE clpr.tv. A compose w=50', 'CREATE clpr.tv. A k8s w=50'],
        ['CREATE clpr.tv. A compose w=0', 'CREATE clpr.tv. A k8s w=100'],
      ])
      const journal = JSON.parse((await b.run(['runs', 'show', a.runId, '--env', TEAM, '--journal', '--json'])).stdout).journal as {
        type: string
        stepId?: string
        decision?: string
      }[]
      expect(journal.find((e) => e.type === 'step.reconciling' && e.stepId === 'shift[50].weights')?.decision).toBe('done')

      // The team's audit trail, read from S3 on B, names both operators and the reason.
      const audit = JSON.parse((await b.run(['audit', '--env', TEAM, '--run', a.runId, '--json', '--limit', '200'])).stdout) as AuditRow[]
      expect(audit.find((e) => e.action === 'run.started')?.who.host).toBe('machine-a')
      const takeover = audit.find((e) => e.action === 'lock.taken-over')
      expect(takeover?.who.host).toBe('machine-b')
      expect(takeover?.detail).toMatchObject({
        from: expect.stringMatching(/@machine-a$/),
        by: expect.stringMatching(/@machine-b$/),
        reason: 'test: machine A died mid-shift',
        generation: 2,
      })
      expect(audit.find((e) => e.action === 'run.succeeded')?.who.host).toBe('machine-b')
    } finally {
      removeDir(b.dir)
    }
  })

  test('a revived A (SIGSTOP, lease expired, B took over, SIGCONT) is fenced and stops without acting', {timeout: 180_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
    const ttl = '3s'
    const since = new Date().toISOString()
    const a = await startRunInBackground(sb, ['rollout', '--env', TEAM, '--steps', '10,50,100', '--bake', '3s'], {CLIPPER_OPS_HOST: 'machine-a', CLIPPER_OPS_LOCK_TTL: ttl})
    await waitForJournal(sb.stateDir, a.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[10].bake', a)
    a.child.kill('SIGSTOP')
    const b = machineB(ttl)
    try {
      await waitFor(
        async () => {
          const lock = JSON.parse((await b.run(['runs', 'unlock', TEAM, '--json'])).stdout) as {holder?: {expiresAt: string}}
          return lock.holder && Date.parse(lock.holder.expiresAt) < Date.now() - 200
        },
        30_000,
        "A's lease to expire",
      )
      const took = b.run(['runs', 'resume', a.runId, '--env', TEAM, '--take-over', '--reason', 'test: A froze', '--yes', '--json'], {timeoutMs: 120_000})
      // B has taken the lease and written its first entry: now A wakes up.
      await waitForJournal(join(b.dir, 's'), a.runId, (e) => e.type === 'run.attempt' && e.host === 'machine-b')
      a.child.kill('SIGCONT')
      const [ra, rb] = await Promise.all([a.done, took])
      expect(rb.code, rb.stderr).toBe(0)
      expect(ra.code, ra.stderr).toBe(130)
      expect(ra.stderr).toMatch(/lock lost: the lock was taken over|fenced: /)
      expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
      // A sent its 10% batch before it froze, and nothing after it woke: B sent the other two.
      const batches = await shiftCreates(sb, since)
      expect(batches).toEqual([
        ['CREATE clpr.tv. A compose w=90', 'CREATE clpr.tv. A k8s w=10'],
        ['CREATE clpr.tv. A compose w=50', 'CREATE clpr.tv. A k8s w=50'],
        ['CREATE clpr.tv. A compose w=0', 'CREATE clpr.tv. A k8s w=100'],
      ])
      // The run's record is B's: A wrote nothing after B's takeover.
      const show = JSON.parse((await b.run(['runs', 'show', a.runId, '--env', TEAM, '--journal', '--json'])).stdout) as {status: string; journal: {type: string; host?: string}[]}
      expect(show.status).toBe('succeeded')
      const takeoverAt = show.journal.findIndex((e) => e.type === 'run.attempt' && e.host === 'machine-b')
      expect(show.journal.slice(takeoverAt).some((e) => e.type === 'run.interrupted')).toBe(false)
    } finally {
      a.child.kill('SIGCONT')
      removeDir(b.dir)
    }
  })
})

describe('the budget decides', () => {
  test(
    'a rollout refuses a shift whose rollback cannot fit the budget; a rollback whose worst case cannot fit says so before any change, offers the faster path; --dry-run shows the same verdict',
    {timeout: 120_000},
    async () => {
      const sb = sandbox()
      expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
      // The team's config, with a rollback budget shorter than the rollback's worst case (INSYNC may take 10m).
      const cfg = parse(readFileSync(sb.status.config, 'utf8'))
      cfg.environments.sandbox.slos = {rollbackBudget: '5m'}
      const config = join(sb.cwd, 'tight-budget.yaml')
      writeFileSync(config, stringify(cfg), {mode: 0o600})
      // A rollout does not start a shift whose rollback (one batch back, INSYNC up to 10m, the TTL) could not fit 5m.
      const before = new Date().toISOString()
      const over =
        'refusing to shift to kubernetes 10: rolling it back could take up to 10m11s (one batch back 10s, INSYNC up to 10m, the TTL 1s), more than the rollback budget of 5m'
      const dryRollout = await sb.cli(['rollout', '--env', 'sandbox', '--config', config, '--steps', '10,100', '--dry-run'])
      expect(dryRollout.code).toBe(1)
      expect(dryRollout.stderr).toContain(over)
      const rollout = await sb.cli(['rollout', '--env', 'sandbox', '--config', config, '--steps', '10,100', '--bake', '1s'], {timeoutMs: 90_000})
      expect(rollout.code).toBe(1)
      expect(rollout.stderr).toContain(over)
      expect(await shiftBatches(sb, before)).toEqual([])
      expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})

      // Traffic on Kubernetes: a rollback has a batch to send and INSYNC to wait for.
      const out = await sb.cli(['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s'], {timeoutMs: 90_000})
      expect(out.code, out.stderr).toBe(0)
      const since = new Date().toISOString()

      const dry = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--dry-run', '--json'])
      expect(dry.code, dry.stderr).toBe(0)
      const plan = JSON.parse(dry.stdout) as {budget: {fits: boolean; budgetMs: number; worstCaseMs: number; message: string; fastPath: {fits: boolean; worstCaseMs: number}}}
      expect(plan.budget).toMatchObject({fits: false, budgetMs: 300_000, fastPath: {fits: true}})
      expect(plan.budget.worstCaseMs).toBeGreaterThan(300_000)
      expect(plan.budget.message).toMatch(/Worst case \S+ against a budget of 5m: it DOES NOT FIT \(the longest: weights 10m/)
      expect(plan.budget.message).toContain("The runbook's faster path — skip the verification window")
      expect(plan.budget.message).toContain('which fits: run it with --fast')
      const table = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--dry-run'])
      expect(table.stdout).toContain(plan.budget.message)

      const refused = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--yes'])
      expect(refused.code, refused.stderr).toBe(1)
      expect(refused.stderr).toContain('Not starting rollback: nothing was changed.')
      expect(refused.stderr).toContain(plan.budget.message)
      // Before any change: no change batch, no run.
      expect((await sb.requests(since, true)).filter((e) => e.operation === 'ChangeResourceRecordSets')).toEqual([])
      const json = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--yes', '--json'])
      expect(JSON.parse(json.stdout).error).toMatchObject({code: 'OVER_BUDGET', exitCode: 1, details: {fits: false}})

      const fastDry = JSON.parse((await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--fast', '--dry-run', '--json'])).stdout)
      expect(fastDry.budget).toMatchObject({fits: true, fast: true})
      expect(fastDry.params).toMatchObject({verifyFor: '1s', insyncTimeout: '2m'})
      // Started anyway: at its first step the run says the steps left do not fit the time left.
      const started = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--over-budget', '--yes', '--output', 'plain'], {timeoutMs: 90_000})
      expect(started.code, started.stderr).toBe(0)
      expect(started.stdout + started.stderr).toMatch(
        /budget: the steps left could take \S+ at worst, and \S+ is left of the 5m budget \(its faster path: skip the verification window .*: --fast\)/,
      )
      expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
      // The faster path as a run: it fits, so nothing is said about the budget.
      const fast = await sb.cli(['rollback', '--env', 'sandbox', '--config', config, '--fast', '--yes', '--output', 'plain'], {timeoutMs: 90_000})
      expect(fast.code, fast.stderr).toBe(0)
      expect(fast.stdout + fast.stderr).not.toContain('budget: the steps left')

      // --fast where the runbook declares no faster path: a usage error naming the flag.
      const noFast = await sb.cli(['rollout', '--env', 'sandbox', '--fast', '--dry-run'])
      expect(noFast.code).toBe(2)
      expect(noFast.stderr).toContain('--fast: runbook "cutover" declares no faster path (budget.fastPath)')
    },
  )
})
