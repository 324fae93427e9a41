/**
 * The engine's promises, tested in this process: start, resume, plan and reconcile called
 * directly, with a recording host and a temporary state dir. What needs a real process
 * (SIGKILL, signals, a TTY) is tested by spawning the CLI (test/cli/).
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {resumeRun, reconcileStep, startRun, type EngineOptions} from '../../src/lib/engine/executor.js'
import {planRun} from '../../src/lib/engine/planner.js'
import {LockHeldError} from '../../src/lib/engine/lock.js'
import {StateDir} from '../../src/lib/engine/state.js'
import type {EngineHost} from '../../src/lib/engine/events.js'
import {RecordingHost} from '../../src/lib/hosts/recording-host.js'
import {bindParameters, parseRunbook} from '../../src/lib/runbook/load.js'
import {loadKind} from '../../src/lib/steps/registry.js'
import {removeDir, tempDir, waitFor} from '../helpers/cli.js'
import {makeContext} from '../steps/context.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

function workspace(): {dir: string; stateDir: StateDir} {
  const dir = tempDir('clipper-ops-engine-')
  dirs.push(dir)
  return {dir, stateDir: new StateDir(join(dir, 'state'))}
}

async function runbook(body: string, params: Record<string, unknown> = {}) {
  const loaded = await parseRunbook('/test/rb.yaml', `version: 1\nname: rb\nenvironment: none\n${body}`)
  return {loaded, params: bindParameters(loaded.runbook, params)}
}

function options(stateDir: StateDir, host: EngineHost, extra: Partial<EngineOptions> = {}): EngineOptions {
  return {stateDir, host, yes: false, ...extra}
}

/** A shell step: `sh -c script` with the work dir as $1. */
const sh = (id: string, script: string, more = 'idempotent: true') =>
  `  - id: ${id}\n    uses: exec\n    with: {command: sh, args: [-c, '${script}', sh, '\${{ params.dir }}'], ${more}}\n`
const dirParam = 'parameters:\n  dir: {type: string}\n'

describe('engine, in process', () => {
  test('a run emits its agenda, each step, and how it ended; state, journal and reports are written', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const input = await runbook(
      `${dirParam}steps:\n${sh('one', 'echo one >> "$1/log"')}  - id: pair\n    forEach: [a, b]\n    steps:\n${sh('each', 'echo ${{ item }} >> "$1/log"').replace(/^ {2}/gm, '      ')}`,
      {dir},
    )
    const out = await startRun(input, options(stateDir, host))
    expect(out.exitCode).toBe(0)
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('one\na\nb\n')
    const started = host.of('run.started')[0]!
    expect(started.agenda).toEqual([
      {type: 'step', id: 'one', title: 'one', kind: 'exec'},
      {type: 'group', id: 'pair[a]', title: 'pair', steps: [{id: 'pair[a].each', title: 'each', kind: 'exec'}]},
      {type: 'group', id: 'pair[b]', title: 'pair', steps: [{id: 'pair[b].each', title: 'each', kind: 'exec'}]},
    ])
    expect(host.types('one')).toEqual(['step.started', 'step.succeeded'])
    expect(host.of('step.started')[1]!.group).toEqual({id: 'pair[a]', title: 'pair'})
    expect(host.events.every((e) => e.runId === out.state.id)).toBe(true)
    const finished = host.of('run.finished')[0]!
    expect(finished).toMatchObject({status: 'succeeded', exitCode: 0, reports: out.reports})
    expect(host.events.at(-1)).toBe(finished)
    expect(existsSync(out.reports.markdown) && existsSync(out.reports.junit)).toBe(true)
    expect(stateDir.load(out.state.id).status).toBe('succeeded')
    // A finished run leaves no lock.
    expect(existsSync(join(stateDir.locksDir(), 'runbook-rb.json'))).toBe(false)
  })

  test('a failed step runs its compensating steps under it, and the run cannot be resumed over them', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const input = await runbook(
      `${dirParam}onFailure:\n${sh('undo', 'echo undo >> "$1/log"')}steps:\n${sh('ok', 'echo ok >> "$1/log"')}${sh('boom', 'echo broken >&2; exit 3')}${sh('never', 'echo never >> "$1/log"')}`,
      {dir},
    )
    const out = await startRun(input, options(stateDir, host))
    expect(out.exitCode).toBe(1)
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('ok\nundo\n')
    const failed = host.of('step.failed')[0]!
    expect(failed).toMatchObject({stepId: 'boom', continues: false, compensation: [{id: 'boom.on-failure.undo', title: 'undo', kind: 'exec'}]})
    expect(failed.error.message).toContain('exited with code 3')
    expect(host.types('boom.on-failure.undo')).toEqual(['step.started', 'step.succeeded'])
    expect(host.types('never')).toEqual([])
    expect(out.state.failure).toMatchObject({stepId: 'boom', compensated: true})
    await expect(resumeRun(out.state.id, options(stateDir, new RecordingHost()))).rejects.toMatchObject({code: 'COMPENSATED', exitCode: 2})
  })

  test('onFailure: continue records the failure and goes on; the run succeeds', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const input = await runbook(`${dirParam}steps:\n${sh('flaky', 'exit 1')}    onFailure: continue\n${sh('after', 'echo after >> "$1/log"')}`, {dir})
    const out = await startRun(input, options(stateDir, host))
    expect(out.exitCode).toBe(0)
    expect(host.of('run.started')[0]!.agenda[0]).toMatchObject({id: 'flaky', continues: true})
    expect(host.of('step.failed')[0]).toMatchObject({stepId: 'flaky', continues: true})
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('after\n')
  })

  test('an aborted signal stops the run where it is (exit 130, resumable, lock released); resume does only what is left', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const stop = new AbortController()
    const input = await runbook(
      `${dirParam}steps:\n${sh('first', 'echo first >> "$1/log"')}  - id: pause\n    uses: wait\n    with: {duration: 2s}\n${sh('last', 'echo last >> "$1/log"')}`,
      {dir},
    )
    const running = startRun(input, options(stateDir, host, {signal: stop.signal}))
    await waitFor(() => host.of('step.started').some((e) => e.stepId === 'pause'))
    stop.abort(new Error('received SIGINT'))
    const out = await running
    expect(out.exitCode).toBe(130)
    expect(out.state.status).toBe('interrupted')
    expect(host.of('run.finished')[0]).toMatchObject({status: 'interrupted', exitCode: 130, reason: 'received SIGINT'})
    expect(existsSync(join(stateDir.locksDir(), 'runbook-rb.json'))).toBe(false)

    // The wait is in doubt (started, no result); a wait changes nothing, so it simply runs again.
    writeFileSync(join(dir, 'marker'), '')
    const again = new RecordingHost()
    const resumed = await resumeRun(out.state.id, options(stateDir, again, {signal: AbortSignal.timeout(60_000)}))
    expect(resumed.exitCode, JSON.stringify(resumed.state.failure)).toBe(0)
    expect(again.of('run.started')[0]!.resumed).toBe(true)
    expect(again.of('step.skipped').map((e) => [e.stepId, e.reason])).toEqual([['first', 'done in an earlier attempt']])
    expect(again.of('step.in-doubt').map((e) => [e.stepId, e.verdict])).toEqual([
      ['pause', 'checking'],
      ['pause', 'redo'],
    ])
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('first\nlast\n')
  }, 60_000)

  test('a step left in doubt whose effect is in place is recorded done, not repeated', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const stop = new AbortController()
    const input = await runbook(`${dirParam}steps:\n${sh('make', 'echo made >> "$1/log"; touch "$1/made"; echo ready; exec sleep 30', `creates: '\${{ params.dir }}/made'`)}`, {
      dir,
    })
    const running = startRun(input, options(stateDir, host, {signal: stop.signal}))
    await waitFor(() => host.of('step.output').some((e) => e.line === 'ready'))
    stop.abort(new Error('received SIGTERM'))
    expect((await running).exitCode).toBe(130)

    const again = new RecordingHost()
    const resumed = await resumeRun((await running).state.id, options(stateDir, again))
    expect(resumed.exitCode).toBe(0)
    expect(again.of('step.in-doubt').map((e) => e.verdict)).toEqual(['checking', 'done'])
    expect(again.of('step.succeeded')[0]).toMatchObject({stepId: 'make', reconciled: true})
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('made\n')
  }, 60_000)

  test('a step that cannot tell whether it took effect is left to the operator, who settles it', async () => {
    const {dir, stateDir} = workspace()
    const host = new RecordingHost()
    const stop = new AbortController()
    const input = await runbook(`${dirParam}steps:\n${sh('blind', 'echo ready; exec sleep 30', 'idempotent: false')}`, {dir})
    const running = startRun(input, options(stateDir, host, {signal: stop.signal}))
    await waitFor(() => host.of('step.output').some((e) => e.line === 'ready'))
    stop.abort(new Error('received SIGINT'))
    const id = (await running).state.id

    const unsure = new RecordingHost()
    const r = await resumeRun(id, options(stateDir, unsure))
    expect(r.exitCode).toBe(1)
    expect(r.state.failure?.code).toBe('IN_DOUBT')
    expect(r.state.steps[0]!.status).toBe('running') // still in doubt
    expect(unsure.of('step.failed')[0]!.error.message).toContain(`runs resume ${id} --assume-done blind`)

    const settled = await resumeRun(id, options(stateDir, new RecordingHost(), {assumeDone: ['blind']}))
    expect(settled.exitCode).toBe(0)
    expect(settled.state.steps[0]).toMatchObject({status: 'succeeded', reconciled: 'operator: assume done'})
  }, 60_000)

  test('approvals are asked through the host: yes goes on, no pauses, nobody to ask pauses with how to continue, --yes answers', async () => {
    const {stateDir} = workspace()
    const rb = await runbook(`steps:\n  - id: ok\n    uses: approval\n    with: {message: "Go on?"}\n`)
    const yes = new RecordingHost([true])
    expect((await startRun(rb, options(stateDir, yes))).exitCode).toBe(0)
    expect(yes.asked.map((a) => [a.stepId, a.message, a.default])).toEqual([['ok', 'Go on?', false]])

    // "No" is a pause, not a failure: stopped where it is, resumable, nothing compensated.
    const noHost = new RecordingHost([false])
    const no = await startRun(rb, options(stateDir, noHost))
    expect(no.exitCode).toBe(130)
    expect(no.state).toMatchObject({status: 'interrupted', stopped: {stepId: 'ok'}})
    expect(no.state.failure).toBeUndefined()
    expect(no.state.steps[0]!.status).toBe('pending') // asked again on resume
    expect(noHost.of('step.paused')[0]!.reason).toContain('Not approved: "Go on?"')
    const asked = new RecordingHost([true])
    expect((await resumeRun(no.state.id, options(stateDir, asked))).exitCode).toBe(0)
    expect(asked.asked).toHaveLength(1)
    expect(asked.of('step.in-doubt')).toEqual([]) // a paused step is not in doubt

    const nobody = await startRun(rb, options(stateDir, new RecordingHost()))
    expect(nobody.exitCode).toBe(130)
    expect(nobody.state.stopped?.reason).toContain(`runs resume ${nobody.state.id} --yes`)

    const flag = await startRun(rb, options(stateDir, new RecordingHost(), {yes: true}))
    expect(flag.state.steps[0]).toMatchObject({status: 'succeeded', summary: 'approved by --yes'})
  })

  test('a passed deadline is an event and a journal entry; policy fail stops the run', async () => {
    const {stateDir} = workspace()
    const host = new RecordingHost()
    const rb = await runbook(`deadline: 1s\nonDeadline: fail\nsteps:\n  - id: slow\n    uses: wait\n    with: {duration: 10s}\n`)
    const out = await startRun(rb, options(stateDir, host))
    expect(out.exitCode).toBe(1)
    expect(host.of('run.started')[0]!.deadline).toMatchObject({budgetMs: 1000, policy: 'fail'})
    expect(host.of('deadline.exceeded')[0]).toMatchObject({runbook: 'rb', budgetMs: 1000, policy: 'fail'})
    expect(out.state.failure?.code).toBe('DEADLINE')
    expect(out.state.deadline?.exceededAt).toBeTruthy()
  }, 30_000)

  test('one run per scope: a second start is refused with the holder, and leaves no run behind', async () => {
    const {stateDir} = workspace()
    const host = new RecordingHost()
    const stop = new AbortController()
    const rb = await runbook(`steps:\n  - id: hold\n    uses: wait\n    with: {duration: 30s}\n`)
    const first = startRun(rb, options(stateDir, host, {signal: stop.signal}))
    await waitFor(() => host.of('step.started').length > 0)
    const error = await startRun(rb, options(stateDir, new RecordingHost())).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LockHeldError)
    expect((error as Error).message).toContain(`for run ${host.events[0]!.runId} (rb)`)
    expect(stateDir.listRunIds()).toHaveLength(1)
    stop.abort(new Error('done'))
    await first
  }, 30_000)

  test('a host that throws does not fail the run', async () => {
    const {dir, stateDir} = workspace()
    const host: EngineHost = {
      notify: () => {
        throw new Error('the screen broke')
      },
    }
    const out = await startRun(await runbook(`${dirParam}steps:\n${sh('one', 'echo one >> "$1/log"')}`, {dir}), options(stateDir, host))
    expect(out.exitCode).toBe(0)
  })

  test('plan reads, changes nothing, and fingerprints what it read', async () => {
    const {dir, stateDir} = workspace()
    const rb = await runbook(`${dirParam}steps:\n${sh('make', 'touch "$1/made"', `creates: '\${{ params.dir }}/made'`)}`, {dir})
    const plan = await planRun({...rb, stateDir: stateDir.root})
    expect(plan.steps[0]).toMatchObject({id: 'make', runs: true, mutates: true})
    expect(plan.steps[0]!.changes[0]!.action).toBe('run')
    expect(existsSync(join(dir, 'made'))).toBe(false)
    expect(stateDir.listRunIds()).toEqual([])
    writeFileSync(join(dir, 'made'), '')
    const after = await planRun({...rb, stateDir: stateDir.root})
    expect(after.steps[0]!.changes[0]!.action).toBe('none')
    expect(after.fingerprint).not.toBe(plan.fingerprint)
  })

  test('reconcileStep: a kind that changes nothing runs again; one whose plan changes nothing is done', async () => {
    const wait = await loadKind('wait')
    expect(await reconcileStep(wait, makeContext(), wait.inputs.parse({duration: '1s'}))).toEqual({done: false})
    const {dir} = workspace()
    writeFileSync(join(dir, 'made'), '')
    const exec = await loadKind('exec')
    const inputs = exec.inputs.parse({command: 'touch', args: [join(dir, 'made')], creates: join(dir, 'made')})
    expect(await reconcileStep(exec, makeContext(), inputs)).toMatchObject({done: true})
  })
})
