/**
 * Crash safety of the traffic shift: the CLI is SIGKILLed before, during and after a change
 * batch, then `runs resume`d. The records must end where the runbook meant, with exactly one
 * change batch per step (the sandbox's request log says what every batch touched), and the dead
 * run takes its own Route 53 lock back. A dead run's expired lock is broken only on purpose.
 */
import {readFileSync} from 'node:fs'
import {describe, expect, test} from 'vitest'
import {readJournal, waitFor} from '../helpers/cli.js'
import {liveWeights, shiftBatches, startRunInBackground} from '../helpers/traffic.js'
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
    expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
    const since = new Date().toISOString()
    const run = await startRollout()
    await waitFor(() => readJournal(sb.stateDir, run.runId).some(when as never), 60_000, 'the kill point')
    run.child.kill('SIGKILL')
    expect((await run.done).signal).toBe('SIGKILL')

    const resumed = await sb.cli(['runs', 'resume', run.runId, '--json'], {timeoutMs: 120_000})
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    const out = JSON.parse(resumed.stdout)
    expect(out.status).toBe('succeeded')
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    const batches = await shiftBatches(sb, since)
    expect(batches.map((b) => b.changes!.filter((c) => c.startsWith('CREATE')))).toEqual([
      ['CREATE clpr.tv. A compose w=50', 'CREATE clpr.tv. A k8s w=50'],
      ['CREATE clpr.tv. A compose w=0', 'CREATE clpr.tv. A k8s w=100'],
    ])
    const audit = readFileSync(`${sb.stateDir}/audit.jsonl`, 'utf8')
    expect(audit).toContain(`"action":"lock.taken-over","scope":"sandbox","runId":"${run.runId}"`)
  })

  test("a dead run's Route 53 lock expires; another operator is refused until it is broken on purpose", async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
    const env = {CLIPPER_OPS_LOCK_TTL: '2s'}
    const run = await startRollout(env)
    await waitFor(() => readJournal(sb.stateDir, run.runId).some((e) => e.type === 'step.intent' && e.stepId === 'shift[50].ttl'), 60_000)
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
    const audit = readFileSync(`${sb.stateDir}/audit.jsonl`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    expect(audit.find((a) => a.action === 'lock.broken')).toMatchObject({scope: 'sandbox', detail: {reason: 'test: the on-call laptop died'}})
    // The lock record is gone from the zone.
    const log = await sb.requests()
    expect(log.filter((e) => e.changes?.some((c) => c.startsWith('DELETE _clipper-ops-lock.clpr.tv. TXT'))).length).toBeGreaterThan(0)

    const resumed = await sb.cli(['runs', 'resume', run.runId, '--json'], {env, timeoutMs: 120_000})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
  })
})
