/**
 * One operator at a time: a second run on a locked environment is refused and names the holder;
 * a dead run's lock is recognised as dead but only broken on purpose (--force, recorded); the
 * dead run itself can take its own lock back when resumed.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {userInfo} from 'node:os'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {cli, readJournal, removeDir, startCli, tempDir, waitFor, onlyRunId} from '../helpers/cli.js'

let cwd: string
let state: string
let runbook: string
beforeAll(() => {
  cwd = tempDir()
  state = join(cwd, 'state')
  runbook = join(cwd, 'hold.yaml')
  writeFileSync(join(cwd, 'clipper-ops.yaml'), 'version: 1\nenvironments:\n  staging: {}\n  production:\n    protected: true\n')
  writeFileSync(
    runbook,
    'version: 1\nname: hold\nparameters:\n  for: {type: duration, default: 3s}\nsteps:\n  - id: hold\n    uses: wait\n    with: {duration: "${{ params.for }}"}\n',
  )
})
afterAll(() => removeDir(cwd))

describe('locks', () => {
  test('a second run on a locked environment is refused and names the holder; another environment is free', async () => {
    const first = startCli(['run', runbook, '--env', 'staging', '--state-dir', state], {cwd})
    const runId = await waitFor(() => onlyRunId(state))
    await waitFor(() => readJournal(state, runId).some((e) => e.type === 'step.intent'))
    const second = await cli(['run', runbook, '--env', 'staging', '--state-dir', state], {cwd})
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('staging is locked')
    expect(second.stderr).toContain(`held by ${userInfo().username}@`)
    expect(second.stderr).toContain(`pid ${first.child.pid}`)
    expect(second.stderr).toContain(`for run ${runId} (hold)`)
    const json = await cli(['run', runbook, '--env', 'staging', '--state-dir', state, '--json'], {cwd})
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout).error).toMatchObject({code: 'LOCKED', details: {runId, scope: 'staging'}})
    // A refused run leaves nothing behind.
    const {readdirSync} = await import('node:fs')
    expect(readdirSync(join(state, 'runs'))).toEqual([runId])
    const other = await cli(['run', runbook, '--env', 'production', '--yes', '-p', 'for=10ms', '--state-dir', state], {cwd})
    expect(other.code, other.stderr).toBe(0)
    expect((await first.done).code).toBe(0)
    // Released at the end: the next run goes ahead.
    const again = await cli(['run', runbook, '--env', 'staging', '-p', 'for=10ms', '--state-dir', state], {cwd})
    expect(again.code, again.stderr).toBe(0)
  })

  test('a killed run leaves its lock; it expires; breaking it needs --force and a reason and is audited', async () => {
    const env = {CLIPPER_OPS_LOCK_TTL: '1s'}
    const s = join(cwd, 'state-dead')
    const first = startCli(['run', runbook, '--env', 'staging', '-p', 'for=20s', '--state-dir', s], {cwd, env})
    const runId = await waitFor(() => onlyRunId(s))
    await waitFor(() => readJournal(s, runId).some((e) => e.type === 'step.intent'))
    first.child.kill('SIGKILL')
    await first.done
    await new Promise((r) => setTimeout(r, 1200))

    const refused = await cli(['run', runbook, '--env', 'staging', '--state-dir', s], {cwd, env})
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('EXPIRED')
    expect(refused.stderr).toContain('The holder looks dead')
    expect(refused.stderr).toContain('runs unlock staging --force')

    // Without --force: who holds it, and how to go on; nothing changes.
    const noForce = await cli(['runs', 'unlock', 'staging', '--state-dir', s], {cwd})
    expect(noForce.code, noForce.stderr).toBe(0)
    expect(noForce.stdout).toContain(`for run ${runId}`)
    expect(noForce.stdout).toContain(`The holder looks dead. Continue its run with: clipper-ops runs resume ${runId}`)
    const noReason = await cli(['runs', 'unlock', 'staging', '--force', '--state-dir', s], {cwd})
    expect(noReason.code).toBe(2)
    expect(noReason.stderr).toContain('--reason')

    const broken = await cli(['runs', 'unlock', 'staging', '--force', '--reason', 'test: holder was killed', '--state-dir', s, '--json'], {cwd})
    expect(broken.code, broken.stderr).toBe(0)
    expect(JSON.parse(broken.stdout)).toMatchObject({locked: false, broken: {runId}, holderLookedDead: true})
    const audit = readFileSync(join(s, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(audit.find((a) => a.action === 'lock.broken')).toMatchObject({scope: 'staging', detail: {reason: 'test: holder was killed', holder: {runId}}})

    // The dead run continues from where it was.
    const resumed = await cli(['runs', 'resume', runId, '--state-dir', s, '--json'], {cwd, env})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).status).toBe('succeeded')
  })

  test('a resumed run takes back its own dead lock without --force', async () => {
    const env = {CLIPPER_OPS_LOCK_TTL: '30s'}
    const s = join(cwd, 'state-own')
    const first = startCli(['run', runbook, '--env', 'staging', '-p', 'for=1s', '--state-dir', s], {cwd, env})
    const runId = await waitFor(() => onlyRunId(s))
    await waitFor(() => readJournal(s, runId).some((e) => e.type === 'step.intent'))
    first.child.kill('SIGKILL')
    await first.done
    // Not expired, but its process is gone on this host: it is dead, and it is ours.
    const resumed = await cli(['runs', 'resume', runId, '--state-dir', s], {cwd, env})
    expect(resumed.code, resumed.stderr).toBe(0)
    const audit = readFileSync(join(s, 'audit.jsonl'), 'utf8')
    expect(audit).toContain('"lock.taken-over"')
  })
})
