/**
 * Crash safety: the CLI is killed with SIGKILL at many points of a run, then `runs resume`d.
 * Every step must end done with its side effect having happened exactly once — including the
 * step whose command was still running (as an orphan) when its parent died.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, readJournal, removeDir, ROOT, startCli, tempDir, waitFor, onlyRunId} from '../helpers/cli.js'

const RUNBOOK = join(ROOT, 'test/fixtures/runbooks/crash.yaml')
const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

// Kill points: the journal event to wait for, then how long after it to pull the plug.
const KILL_POINTS: [string, string, number][] = [
  ['as the slow step records its intent', 'step.intent:slow', 0],
  ['while the slow command runs, before its effect', 'step.intent:slow', 250],
  ['after the slow effect, before its result is recorded', 'step.intent:slow', 900],
  ['during the wait', 'step.intent:pause', 300],
  ['as the last step starts', 'step.intent:last', 0],
  ['right after the first step finishes', 'step.succeeded:first', 0],
]

describe('SIGKILL at any moment, then runs resume', () => {
  test.each(KILL_POINTS)('killed %s: every effect exactly once', async (_label, event, delay) => {
    const cwd = tempDir()
    dirs.push(cwd)
    const state = join(cwd, 'state')
    const {child, done} = startCli(['run', RUNBOOK, '-p', `dir=${cwd}`, '--state-dir', state], {cwd})
    const [type, stepId] = event.split(':')
    const runId = await waitFor(() => onlyRunId(state), 10_000, 'run directory')
    await waitFor(() => readJournal(state, runId).some((e) => e.type === type && e.stepId === stepId), 15_000, event)
    if (delay) await new Promise((r) => setTimeout(r, delay))
    child.kill('SIGKILL')
    const killed = await done
    expect(killed.signal).toBe('SIGKILL')

    const before = readJournal(state, runId)
    expect(before.some((e) => e.type === 'run.finished')).toBe(false)

    const resumed = await cli(['runs', 'resume', runId, '--state-dir', state, '--json'], {cwd})
    expect(resumed.code, resumed.stderr).toBe(0)
    const summary = JSON.parse(resumed.stdout)
    expect(summary.status).toBe('succeeded')
    expect(summary.steps.map((s: {status: string}) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded'])

    expect(lines(join(cwd, 'effects'))).toEqual(['first', 'slow', 'last'])
    expect(lines(join(cwd, 'starts'))).toEqual(['started'])

    // The journal tells the story: two attempts, and an in-doubt step settled by reading the world.
    const journal = readJournal(state, runId)
    expect(journal.filter((e) => e.type === 'run.attempt')).toHaveLength(2)
    const inDoubt = before
      .filter((e) => e.type === 'step.intent')
      .map((e) => e.stepId)
      .filter((id) => !before.some((x) => x.type === 'step.succeeded' && x.stepId === id))
    for (const id of inDoubt) expect(journal.some((e) => e.type === 'step.reconciling' && e.stepId === id)).toBe(true)
  })

  test('killed right after its last journal entry: the run had ended, and the resume lets go of the lock it still held', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const state = join(cwd, 'state')
    const clean = join(cwd, 'clean')
    // How many entries a whole run writes: the kill comes right after the last (run.finished).
    const {mkdirSync, readdirSync} = await import('node:fs')
    mkdirSync(join(cwd, 'x'))
    expect((await cli(['run', RUNBOOK, '-p', `dir=${cwd}/x`, '--state-dir', clean], {cwd})).code).toBe(0)
    const entries = readJournal(clean, readdirSync(join(clean, 'runs')).sort().at(-1)!).length
    const killed = await cli(['run', RUNBOOK, '-p', `dir=${cwd}`, '--state-dir', state], {cwd, env: {CLIPPER_OPS_CHAOS_KILL_AT: String(entries)}})
    expect(killed.signal).toBe('SIGKILL')
    const runId = onlyRunId(state)!
    expect(readJournal(state, runId).at(-1)).toMatchObject({type: 'run.finished', status: 'succeeded'})
    expect(readdirSync(join(state, 'locks'))).not.toEqual([])
    const resumed = await cli(['runs', 'resume', runId, '--state-dir', state, '--json'], {cwd})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).status).toBe('succeeded')
    expect(readdirSync(join(state, 'locks'))).toEqual([])
    expect(readFileSync(join(state, 'audit.jsonl'), 'utf8')).toContain('its process ended before letting go of the lock')
    expect(existsSync(join(state, 'runs', runId, 'report.md'))).toBe(true)
    expect(lines(join(cwd, 'effects'))).toEqual(['first', 'slow', 'last'])
  })

  test('a resume refuses while the run it resumes is still alive', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const state = join(cwd, 'state')
    const {child, done} = startCli(['run', RUNBOOK, '-p', `dir=${cwd}`, '--state-dir', state], {cwd})
    const runId = await waitFor(() => onlyRunId(state), 10_000, 'run directory')
    await waitFor(() => readJournal(state, runId).some((e) => e.type === 'step.intent' && e.stepId === 'slow'))
    const second = await cli(['runs', 'resume', runId, '--state-dir', state], {cwd})
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`still alive (pid ${child.pid}`)
    expect((await done).code).toBe(0)
    expect(lines(join(cwd, 'effects'))).toEqual(['first', 'slow', 'last'])
  })

  test('an exec step without any way to tell is left for the operator, who settles it', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const state = join(cwd, 'state')
    const rb = join(cwd, 'blind.yaml')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(
      rb,
      `version: 1\nname: blind\nsteps:\n  - id: blind\n    uses: exec\n    with:\n      command: sh\n      args: [-c, 'sleep 0.3; echo x >> "$1/effects"', sh, ${JSON.stringify(cwd)}]\n  - id: after\n    uses: exec\n    with: {command: 'true', idempotent: true}\n`,
    )
    const {child, done} = startCli(['run', rb, '--state-dir', state], {cwd})
    const runId = await waitFor(() => onlyRunId(state))
    await waitFor(() => readJournal(state, runId).some((e) => e.type === 'step.note' && (e.detail as {childPid?: number}).childPid))
    child.kill('SIGKILL')
    await done
    const r = await cli(['runs', 'resume', runId, '--state-dir', state], {cwd})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('cannot tell whether it took effect')
    expect(r.stderr).toContain(`--assume-done blind`)
    // The orphan finished while the resume waited for it; the operator looks and decides.
    expect(lines(join(cwd, 'effects'))).toEqual(['x'])
    const settled = await cli(['runs', 'resume', runId, '--state-dir', state, '--assume-done', 'blind', '--json'], {cwd})
    expect(settled.code, settled.stderr).toBe(0)
    expect(JSON.parse(settled.stdout).steps[0].reconciled).toBe('operator: assume done')
    expect(lines(join(cwd, 'effects'))).toEqual(['x'])
  })
})
