/**
 * Hostile and damaged input, as a careful SRE tried it: files that are not YAML files (a FIFO),
 * names that exist on every object's prototype, and a run whose state file was damaged. Each is
 * refused (or listed) with a message naming the file, never a hang or a stack trace.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, onlyRunId, removeDir, tempDir} from '../helpers/cli.js'

const cwd = tempDir()
afterAll(() => removeDir(cwd))

const config = (envName: string) => `version: 1\nenvironments:\n  ${envName}:\n    description: a plain environment\n`

describe('hostile input', () => {
  test('a --config that is a FIFO is refused at once, naming the file (it used to hang)', async () => {
    const fifo = join(cwd, 'config.yaml')
    execFileSync('mkfifo', [fifo])
    const r = await cli(['config', 'validate', '--config', fifo], {cwd, timeoutMs: 15_000})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${fifo} is not a regular file (a FIFO, socket or device)`)
  })

  test.each(['toString', '__proto__', 'constructor'])('--env %s is not an environment of every config', async (name) => {
    const file = join(cwd, `plain-${name}.yaml`)
    writeFileSync(file, config('staging'))
    const r = await cli(['config', 'validate', '--config', file, '--env', name], {cwd})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--env ${name}: no such environment`)
    expect(r.stderr).not.toMatch(/TypeError|at .*\.js:\d+/)
  })

  test('a tampered runbook copy or a damaged journal line: the resume is refused with the file and what to do', async () => {
    const rb = join(cwd, 'pause.yaml')
    writeFileSync(rb, 'version: 1\nname: pause\nenvironment: none\nsteps:\n  - id: ask\n    uses: approval\n    with: {message: "Go on?"}\n')
    const state = join(cwd, 'state-tampered')
    const paused = await cli(['run', rb, '--state-dir', state], {cwd})
    expect(paused.code, paused.stderr).toBe(130)
    const id = onlyRunId(state)!
    const dir = join(state, 'runs', id)

    const copy = readFileSync(join(dir, 'runbook.yaml'), 'utf8')
    writeFileSync(join(dir, 'runbook.yaml'), copy.replace('Go on?', 'Delete everything?'))
    const tampered = await cli(['runs', 'resume', id, '--yes', '--state-dir', state], {cwd})
    expect(tampered.code).toBe(1)
    expect(tampered.stderr).toContain(`The run's copy of its runbook, ${join(dir, 'runbook.yaml')}, was changed since the run started`)
    writeFileSync(join(dir, 'runbook.yaml'), copy)

    const lines = readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n')
    lines.splice(1, 0, '{"type": "step.intent", "stepId": "ask", "seq": 2, cut short')
    writeFileSync(join(dir, 'journal.jsonl'), lines.join('\n'))
    const damaged = await cli(['runs', 'resume', id, '--yes', '--state-dir', state], {cwd})
    expect(damaged.code).toBe(1)
    expect(damaged.stderr).toContain(`The journal ${join(dir, 'journal.jsonl')} is damaged at line 2`)
    expect(damaged.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
  })

  test('a damaged state.json is listed as unreadable, and runs list still lists the other runs', async () => {
    const state = join(cwd, 'state-damaged')
    const ok = await cli(['run', 'demo', '--yes', '-p', 'pause=0s', '-p', `workdir=${join(cwd, 'demo-files')}`, '--state-dir', state], {cwd})
    expect(ok.code, ok.stderr).toBe(0)
    const good = onlyRunId(state)!
    for (const [id, text] of [
      ['20200101-000000-demo-dead', ''],
      ['20200101-000001-demo-cut', '{"schema": 1, "id": "20200101-000001-demo-cut", "steps": ['],
      ['20200101-000002-demo-type', '{"schema": 1, "status": "running", "steps": "not a list", "who": {}, "runbook": {}}'],
    ]) {
      mkdirSync(join(state, 'runs', id!), {recursive: true})
      writeFileSync(join(state, 'runs', id!, 'state.json'), text!)
    }
    const r = await cli(['runs', 'list', '--state-dir', state], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(good)
    expect(r.stdout).toMatch(/20200101-000002-demo-type\s+-\s+-\s+unreadable/)
    // oclif wraps warnings to the terminal's width: compare without its line breaks.
    const warned = r.stderr.replace(/\s*\n\s*›\s*/g, ' ')
    expect(warned).toContain('"clipper-ops runs show 20200101-000001-demo-cut" says more')
    expect(warned).toContain('cannot be read (empty, cut short or not a run')
    const json = JSON.parse((await cli(['runs', 'list', '--state-dir', state, '--json'], {cwd})).stdout)
    expect(json.runs.map((x: {status: string}) => x.status).sort()).toEqual(['succeeded', 'unreadable', 'unreadable', 'unreadable'])
  })
})
