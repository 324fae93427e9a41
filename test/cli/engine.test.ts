/**
 * The engine's promises seen from outside: deadlines reported (and enforced when asked),
 * compensating steps on failure, retries and timeouts, protected environments that ask,
 * approvals that never hang, secrets that never reach disk, Ctrl-C that leaves a resumable run,
 * and the Markdown/JUnit reports every run writes.
 */
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {cli, readJournal, removeDir, startCli, tempDir, waitFor, onlyRunId} from '../helpers/cli.js'

let cwd: string
beforeAll(() => {
  cwd = tempDir()
  writeFileSync(join(cwd, 'clipper-ops.yaml'), 'version: 1\nenvironments:\n  prod:\n    protected: true\n  dev: {}\n')
})
afterAll(() => removeDir(cwd))

function runbook(name: string, body: string): string {
  const file = join(cwd, `${name}.yaml`)
  writeFileSync(file, `version: 1\nname: ${name}\n${body}`)
  return file
}

function allFiles(dir: string): string {
  let text = ''
  for (const e of readdirSync(dir, {withFileTypes: true, recursive: true})) {
    if (e.isFile()) text += readFileSync(join(e.parentPath, e.name), 'utf8')
  }
  return text
}

describe('engine', () => {
  test('a deadline that passes is reported loudly, in the state and in the report; the run goes on', async () => {
    const rb = runbook(
      'late',
      'deadline: 1s\nsteps:\n  - id: slow\n    uses: wait\n    with: {duration: 2s}\n  - id: after\n    uses: exec\n    with: {command: "true", idempotent: true}\n',
    )
    const s = join(cwd, 'st-late')
    const r = await cli(['run', rb, '--state-dir', s, '--json'], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('DEADLINE PASSED: late has run longer than its 1s budget; the run goes on.')
    const out = JSON.parse(r.stdout)
    expect(out.status).toBe('succeeded')
    expect(out.deadline.exceededAt).toBeTruthy()
    const report = readFileSync(out.reports.markdown, 'utf8')
    expect(report).toMatch(/\| Deadline \| 1s .* — \*\*exceeded\*\* at /)
    expect(readJournal(s, out.id).some((e) => e.type === 'deadline.exceeded')).toBe(true)
  })

  test('onDeadline: fail stops the run when the deadline passes', async () => {
    const rb = runbook('strict', 'deadline: 1s\nonDeadline: fail\nsteps:\n  - id: slow\n    uses: wait\n    with: {duration: 5s}\n')
    const r = await cli(['run', rb, '--state-dir', join(cwd, 'st-strict'), '--json'], {cwd})
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out.failure.code).toBe('DEADLINE')
    expect(out.steps[0].status).toBe('failed')
  })

  test('a failing step runs its compensating steps, then the run fails and cannot be resumed blindly', async () => {
    const rb = runbook(
      'comp',
      `parameters:\n  dir: {type: string}\nonFailure:\n  - id: undo\n    uses: exec\n    with: {command: sh, args: [-c, 'echo "undo after \${{ failed.id }}" >> "$1/log"', sh, '\${{ params.dir }}'], idempotent: true}\nsteps:\n  - id: ok\n    uses: exec\n    with: {command: sh, args: [-c, 'echo ok >> "$1/log"', sh, '\${{ params.dir }}'], idempotent: true}\n  - id: boom\n    uses: exec\n    with: {command: sh, args: [-c, 'echo broken >&2; exit 3'], idempotent: true}\n  - id: never\n    uses: exec\n    with: {command: sh, args: [-c, 'echo never >> "$1/log"', sh, '\${{ params.dir }}'], idempotent: true}\n`,
    )
    const dir = tempDir()
    const s = join(dir, 's')
    const r = await cli(['run', rb, '-p', `dir=${dir}`, '--state-dir', s, '--json'], {cwd})
    expect(r.code).toBe(1)
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('ok\nundo after boom\n')
    const out = JSON.parse(r.stdout)
    expect(out.failure).toMatchObject({stepId: 'boom', compensated: true})
    expect(out.failure.message).toContain('exited with code 3')
    expect(out.failure.message).toContain('broken')
    expect(out.steps.map((x: {id: string; status: string}) => `${x.id}:${x.status}`)).toEqual(['ok:succeeded', 'boom:failed', 'boom.on-failure.undo:succeeded', 'never:pending'])
    const again = await cli(['runs', 'resume', out.id, '--state-dir', s], {cwd})
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('compensating steps ran')
    removeDir(dir)
  })

  test('retries with backoff, then succeeds; a timeout fails the step with a clear message', async () => {
    const dir = tempDir()
    const rb = runbook(
      'flaky',
      `parameters:\n  dir: {type: string}\nsteps:\n  - id: flaky\n    retry: {attempts: 3, delay: 100ms}\n    uses: exec\n    with: {command: sh, args: [-c, 'echo x >> "$1/tries"; [ $(wc -l < "$1/tries") -ge 3 ]', sh, '\${{ params.dir }}'], idempotent: true}\n  - id: stuck\n    timeout: 500ms\n    uses: exec\n    with: {command: sleep, args: ['10'], idempotent: true}\n`,
    )
    const r = await cli(['run', rb, '-p', `dir=${dir}`, '--state-dir', join(dir, 's'), '--json'], {cwd})
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(readFileSync(join(dir, 'tries'), 'utf8').split('\n').filter(Boolean)).toHaveLength(3)
    expect(out.steps[0].status).toBe('succeeded')
    expect(out.failure).toMatchObject({stepId: 'stuck', code: 'TIMEOUT', message: 'timed out after 500ms'})
    expect(readJournal(join(dir, 's'), out.id).filter((e) => e.type === 'step.retry')).toHaveLength(2)
    removeDir(dir)
  })

  test('a protected environment needs --yes without a TTY, and nothing runs until then', async () => {
    const dir = tempDir()
    const rb = runbook(
      'touchy',
      `parameters:\n  dir: {type: string}\nsteps:\n  - id: touch\n    uses: exec\n    with: {command: touch, args: ['\${{ params.dir }}/touched'], creates: '\${{ params.dir }}/touched'}\n`,
    )
    const refused = await cli(['run', rb, '--env', 'prod', '-p', `dir=${dir}`, '--state-dir', join(dir, 's')], {cwd})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('prod is a protected environment')
    expect(refused.stderr).toContain('pass --yes')
    expect(existsSync(join(dir, 'touched'))).toBe(false)
    expect(existsSync(join(dir, 's', 'runs'))).toBe(false)
    const dev = await cli(['run', rb, '--env', 'dev', '-p', `dir=${dir}`, '--state-dir', join(dir, 's')], {cwd})
    expect(dev.code, dev.stderr).toBe(0)
    const yes = await cli(['run', rb, '--env', 'prod', '--yes', '-p', `dir=${dir}`, '--state-dir', join(dir, 's')], {cwd})
    expect(yes.code, yes.stderr).toBe(0)
    removeDir(dir)
  })

  test('an approval without a TTY pauses the run (exit 130) with how to continue; resume --yes approves and records it', async () => {
    const rb = runbook(
      'ask',
      'steps:\n  - id: ask\n    uses: approval\n    with: {message: "Shift traffic?"}\n  - id: after\n    uses: exec\n    with: {command: "true", idempotent: true}\n',
    )
    const s = join(cwd, 'st-ask')
    const r = await cli(['run', rb, '--state-dir', s], {cwd, timeoutMs: 20_000})
    expect(r.code).toBe(130)
    expect(r.stderr).toContain('Approval needed: "Shift traffic?"')
    expect(r.stderr).toMatch(/runs resume \S+ --yes/)
    const id = onlyRunId(s)!
    const ok = await cli(['runs', 'resume', id, '--yes', '--state-dir', s], {cwd})
    expect(ok.code, ok.stderr).toBe(0)
    const audit = readFileSync(join(s, 'audit.jsonl'), 'utf8')
    expect(audit).toContain('"action":"approval"')
    expect(audit).toContain('"how":"--yes"')
  })

  test('secrets never reach state, journal, logs or reports', async () => {
    const secret = 'hunter2-very-secret-value'
    const rb = runbook(
      'secretive',
      `steps:\n  - id: use\n    uses: exec\n    with:\n      command: sh\n      args: [-c, 'echo "token is $TOKEN"; echo "url postgres://app:$TOKEN@db/x"', sh]\n      env: {TOKEN: '\${{ secrets.DEPLOY_TOKEN }}'}\n      idempotent: true\n  - id: fail\n    uses: exec\n    with: {command: sh, args: [-c, 'echo "bad $1" >&2; exit 1', sh, '\${{ secrets.DEPLOY_TOKEN }}'], idempotent: true}\n`,
    )
    const s = join(cwd, 'st-secret')
    const r = await cli(['run', rb, '--state-dir', s, '--output', 'json'], {cwd, env: {DEPLOY_TOKEN: secret}})
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).not.toContain(secret)
    const files = allFiles(s)
    expect(files).toContain('token is ***')
    expect(files).not.toContain(secret)
  })

  test('Ctrl-C (SIGINT) stops cleanly with exit 130, releases the lock, and the run resumes', async () => {
    const rb = runbook('long', 'steps:\n  - id: a\n    uses: wait\n    with: {duration: 1500ms}\n  - id: b\n    uses: exec\n    with: {command: "true", idempotent: true}\n')
    const s = join(cwd, 'st-int')
    const {child, done} = startCli(['run', rb, '--env', 'dev', '--state-dir', s], {cwd})
    const id = await waitFor(() => onlyRunId(s))
    await waitFor(() => readJournal(s, id).some((e) => e.type === 'step.intent'))
    child.kill('SIGINT')
    const r = await done
    expect(r.code).toBe(130)
    expect(r.stderr).toContain(`Continue: clipper-ops runs resume ${id}`)
    expect(existsSync(join(s, 'locks', 'dev.json'))).toBe(false)
    const list = await cli(['runs', 'list', '--state-dir', s, '--json'], {cwd})
    expect(JSON.parse(list.stdout).runs[0]).toMatchObject({id, status: 'interrupted', at: 'a'})
    const resumed = await cli(['runs', 'resume', 'latest', '--state-dir', s, '--json'], {cwd})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).steps.map((x: {status: string}) => x.status)).toEqual(['succeeded', 'succeeded'])
  })

  test('every run writes a Markdown report and a JUnit file', async () => {
    const rb = runbook(
      'reported',
      'steps:\n  - id: one\n    uses: exec\n    with: {command: "true", idempotent: true}\n  - id: two\n    if: ${{ 1 > 2 }}\n    uses: exec\n    with: {command: "true"}\n',
    )
    const s = join(cwd, 'st-rep')
    const r = await cli(['run', rb, '--state-dir', s, '--json'], {cwd})
    const out = JSON.parse(r.stdout)
    const junit = readFileSync(out.reports.junit, 'utf8')
    expect(junit).toContain('<testsuite name="reported" ')
    expect(junit).toContain('tests="2" failures="0" skipped="1"')
    expect(readFileSync(out.reports.markdown, 'utf8')).toContain('# reported: SUCCEEDED')
    const show = await cli(['runs', 'show', out.id, '--state-dir', s, '--output', 'junit'], {cwd})
    expect(show.stdout.trim()).toBe(junit.trim())
  })
})
