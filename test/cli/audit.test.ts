/**
 * `clipper-ops audit`: the trail that real runs write, read back as a table and as JSON;
 * filters by environment, time, run and action; a damaged line skipped with a warning that
 * names the file and line; --since checked; no trail at all is not an error.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {cli, removeDir, tempDir} from '../helpers/cli.js'

interface Entry {
  at: string
  who: {user: string; host: string; pid: number; aws?: string}
  action: string
  scope?: string
  runId?: string
  detail?: Record<string, unknown>
}

let cwd: string
beforeAll(() => {
  cwd = tempDir()
  writeFileSync(join(cwd, 'clipper-ops.yaml'), 'version: 1\nenvironments:\n  staging: {}\n')
  writeFileSync(join(cwd, 'touch.yaml'), 'version: 1\nname: touch\nsteps:\n  - id: touch\n    uses: exec\n    with: {command: "true", idempotent: true}\n')
})
afterAll(() => removeDir(cwd))

const json = (stdout: string) => JSON.parse(stdout) as Entry[]

describe('audit, from real runs', () => {
  let state: string
  let first: string
  let second: string
  beforeAll(async () => {
    state = join(cwd, 'real')
    const demo = ['run', 'demo', '-p', 'pause=0s', '-p', `workdir=${join(cwd, 'demo-files')}`, '--state-dir', state, '--json']
    const a = await cli([...demo, '--yes'], {cwd})
    expect(a.code, a.stdout).toBe(0)
    first = JSON.parse(a.stdout).id
    // Without --yes the demo stops at its approval; the resume approves it.
    const b = await cli(demo, {cwd})
    expect(b.code, b.stdout).not.toBe(0)
    expect(b.code, b.stdout).not.toBe(2)
    second = JSON.parse(b.stdout).id
    const c = await cli(['runs', 'resume', second, '--yes', '--state-dir', state, '--json'], {cwd})
    expect(c.code, c.stdout).toBe(0)
    const d = await cli(['run', 'touch.yaml', '--env', 'staging', '--state-dir', state, '--json'], {cwd})
    expect(d.code, d.stdout).toBe(0)
  })

  test('--json: every entry, newest last, as written', async () => {
    const r = await cli(['audit', '--state-dir', state, '--json'], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    const entries = json(r.stdout)
    expect(entries.map((e) => e.at)).toEqual(entries.map((e) => e.at).sort())
    const firstRun = entries.filter((e) => e.runId === first).map((e) => e.action)
    expect(firstRun).toEqual(['lock.acquired', 'run.started', 'step.changed', 'step.changed', 'approval', 'run.succeeded'])
    const secondRun = entries.filter((e) => e.runId === second).map((e) => e.action)
    expect(secondRun.slice(0, 2)).toEqual(['lock.acquired', 'run.started'])
    expect(secondRun).toContain('run.resumed')
    expect(secondRun.slice(-2)).toEqual(['approval', 'run.succeeded'])
    expect(entries.find((e) => e.runId === second && e.action === 'approval')!.detail).toMatchObject({step: 'approve', approved: true, how: '--yes'})
    for (const e of entries) expect(e.who).toMatchObject({user: expect.any(String), host: expect.any(String)})
  })

  test('a table with time, who, action, run and a one-line detail', async () => {
    const r = await cli(['audit', '--state-dir', state], {cwd})
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^TIME +ENV +WHO +ACTION +RUN +DETAIL$/)
    expect(lines.find((l) => l.includes(first) && l.includes('approval'))).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +runbook-demo +\S+@\S+ +approval +\S+ +"Go on to the last steps\?" approved by --yes$/,
    )
    expect(lines.find((l) => l.includes(first) && l.includes('run.started'))).toContain('demo workdir=')
    expect(lines.find((l) => l.includes('run.succeeded'))).toContain('lock released')
    expect(lines.find((l) => l.includes(first) && l.includes('step.changed'))).toContain('prepare: run mkdir -p')
  })

  test('--env keeps one environment (runs without one are runbook-<name>); --run takes a prefix', async () => {
    const staging = json((await cli(['audit', '--state-dir', state, '--env', 'staging', '--json'], {cwd})).stdout)
    expect(staging.map((e) => e.action)).toEqual(['lock.acquired', 'run.started', 'step.changed', 'run.succeeded'])
    expect(staging.every((e) => e.scope === 'staging')).toBe(true)
    const demo = json((await cli(['audit', '--state-dir', state, '--env', 'runbook-demo', '--json'], {cwd})).stdout)
    expect(new Set(demo.map((e) => e.runId))).toEqual(new Set([first, second]))
    const one = json((await cli(['audit', '--state-dir', state, '--run', second.slice(0, -2), '--json'], {cwd})).stdout)
    expect(one.length).toBeGreaterThan(0)
    expect(one.every((e) => e.runId === second)).toBe(true)
    const table = await cli(['audit', '--state-dir', state, '--env', 'staging'], {cwd})
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME +WHO +ACTION +RUN +DETAIL$/)
  })
})

describe('audit, from a hand-written trail', () => {
  let state: string
  let file: string
  const now = Date.now()
  const ago = (h: number) => new Date(now - h * 3_600_000).toISOString()
  const alice = {user: 'alice', host: 'laptop', pid: 4242, aws: 'arn:aws:sts::123456789012:assumed-role/OnCall/alice'}
  const bob = {user: 'bob', host: 'jump', pid: 77}
  const entries: Entry[] = [
    {
      at: '2026-01-10T09:00:00.000Z',
      who: bob,
      action: 'run.started',
      scope: 'staging',
      runId: '20260110-090000-cutover-aaaa',
      detail: {runbook: 'cutover', params: {steps: [10, 50, 100]}},
    },
    {
      at: '2026-01-10T09:05:00.000Z',
      who: bob,
      action: 'run.failed',
      scope: 'staging',
      runId: '20260110-090000-cutover-aaaa',
      detail: {failure: {stepId: 'gate', message: 'p95 too high\nmore', code: 'GATE'}, lockReleased: true},
    },
    {
      at: ago(30),
      who: alice,
      action: 'run.started',
      scope: 'production',
      runId: '20260301-100000-cutover-bbbb',
      detail: {runbook: 'cutover', params: {steps: [10, 50], bake: '5m'}},
    },
    {
      at: ago(29),
      who: alice,
      action: 'step.changed',
      scope: 'production',
      runId: '20260301-100000-cutover-bbbb',
      detail: {step: 'shift[50].weights', changes: [{action: 'update', target: 'app.example.com A [k8s] weight', before: 10, after: 50}]},
    },
    {
      at: ago(28),
      who: alice,
      action: 'approval',
      scope: 'production',
      runId: '20260301-100000-cutover-bbbb',
      detail: {step: 'approve', message: 'Shift 100%?', approved: false, how: 'prompt'},
    },
    {
      at: ago(3),
      who: bob,
      action: 'lock.taken-over',
      scope: 'production',
      runId: '20260301-100000-cutover-bbbb',
      detail: {where: 'file locks/production.json', previous: {runId: '20260301-100000-cutover-bbbb', holder: alice, expiresAt: ago(3.5)}},
    },
    {
      at: ago(1),
      who: bob,
      action: 'dns.shift',
      scope: 'production',
      runId: '20260301-100000-cutover-bbbb',
      detail: {step: 'shift[100].weights', changeId: 'C42', before: {legacy: 50, kubernetes: 50}, after: {legacy: 0, kubernetes: 255}, record: 'app.example.com A'},
    },
    {at: ago(0.5), who: bob, action: 'lock.broken', scope: 'production', detail: {reason: 'laptop died', holder: {runId: '20260301-100000-cutover-bbbb', holder: alice}}},
    {at: ago(0.2), who: bob, action: 'notify.sent', scope: 'production', runId: '20260301-100000-cutover-bbbb', detail: {channel: 'slack', ok: true}},
  ]

  beforeAll(() => {
    state = join(cwd, 'hand')
    mkdirSync(state)
    file = join(state, 'audit.jsonl')
    const lines = entries.map((e) => JSON.stringify(e))
    // Line 3: garbage; line 6: a write torn by a crash, with the next entry appended to it.
    lines.splice(2, 0, 'this is not json')
    lines[5] = `{"at":"2026-03-01T1${lines[5]}`
    writeFileSync(file, `${lines.join('\n')}\n`)
  })

  test('a damaged line is skipped with a warning naming the file and line; a whole entry after a torn one is kept', async () => {
    const r = await cli(['audit', '--state-dir', state, '--json'], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`${file}:3: skipped: not an audit entry (this is not json)`)
    expect(r.stderr).toContain(`${file}:6: skipped`)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(2)
    expect(json(r.stdout)).toEqual(entries)
    const table = await cli(['audit', '--state-dir', state], {cwd})
    expect(table.code).toBe(0)
    expect(table.stderr).toContain(`${file}:3:`)
  })

  test('one line says what happened: weights before → after, approvals and how, locks taken over and broken', async () => {
    const r = await cli(['audit', '--state-dir', state, '--env', 'production'], {cwd})
    expect(r.code).toBe(0)
    const row = (action: string) => r.stdout.split('\n').find((l) => l.includes(` ${action} `))!
    expect(row('run.started')).toContain('alice@laptop (123456789012:assumed-role/OnCall/alice)')
    expect(row('run.started')).toContain('cutover steps=10,50 bake=5m')
    expect(row('step.changed')).toMatch(/shift\[50\]\.weights: app\.example\.com A \[k8s\] weight 10 → 50$/)
    expect(row('approval')).toMatch(/"Shift 100%\?" declined at the prompt$/)
    expect(row('lock.taken-over')).toMatch(/from alice@laptop pid 4242 \(run 20260301-100000-cutover-bbbb\): its lock expired at \S+$/)
    expect(row('dns.shift')).toMatch(/app\.example\.com A: legacy 50 → 0, kubernetes 50 → 255 \(change C42\)$/)
    expect(row('lock.broken')).toMatch(/ - +from alice@laptop pid 4242 \(run 20260301-100000-cutover-bbbb\): "laptop died"$/)
    // An action this version does not know still reads as its detail.
    expect(row('notify.sent')).toMatch(/channel=slack ok=true$/)
    const staging = await cli(['audit', '--state-dir', state, '--env', 'staging'], {cwd})
    expect(staging.stdout).toMatch(/run\.failed +20260110-090000-cutover-aaaa +at gate: p95 too high \[GATE\]; lock released$/m)
  })

  test('--since takes a duration back from now or an ISO time', async () => {
    const hours = async (since: string) => json((await cli(['audit', '--state-dir', state, '--since', since, '--json'], {cwd})).stdout).map((e) => e.action)
    expect(await hours('2h')).toEqual(['dns.shift', 'lock.broken', 'notify.sent'])
    expect(await hours('1d')).toEqual(['lock.taken-over', 'dns.shift', 'lock.broken', 'notify.sent'])
    expect(await hours('45m')).toEqual(['lock.broken', 'notify.sent'])
    expect(await hours('2026-01-10T09:01:00Z')).toEqual(entries.slice(1).map((e) => e.action))
    expect(await hours('2026-01-10T10:01:00+01:00')).toEqual(entries.slice(1).map((e) => e.action))
    expect(await hours('2026-01-10')).toEqual(entries.map((e) => e.action))
  })

  test.each([['yesterday'], ['7'], ['2h ago'], ['2026-02-30'], ['2026-1-5'], ['']])('--since %j is refused (exit 2) naming the flag and the valid forms', async (since) => {
    const r = await cli(['audit', '--state-dir', state, '--since', since], {cwd})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--since ${since}`)
    expect(r.stderr).toContain('30m, 2h or 7d')
    expect(r.stderr).toContain('ISO 8601')
    const j = await cli(['audit', '--state-dir', state, '--since', since, '--json'], {cwd})
    expect(j.code).toBe(2)
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'BAD_FLAG', exitCode: 2})
  })

  test('--action takes a prefix or a glob (repeatable); --run a prefix; --limit keeps the newest', async () => {
    const actions = async (...args: string[]) => json((await cli(['audit', '--state-dir', state, '--json', ...args], {cwd})).stdout).map((e) => e.action)
    expect(await actions('--action', 'lock')).toEqual(['lock.taken-over', 'lock.broken'])
    expect(await actions('--action', 'lock.*', '--action', 'approval')).toEqual(['approval', 'lock.taken-over', 'lock.broken'])
    expect(await actions('--action', '*.failed')).toEqual(['run.failed'])
    expect(await actions('--action', 'run.start?d')).toEqual(['run.started', 'run.started'])
    expect(await actions('--run', '20260110')).toEqual(['run.started', 'run.failed'])
    expect(await actions('--run', '20260301-100000-cutover-bbbb', '--limit', '2')).toEqual(['dns.shift', 'notify.sent'])
    const limited = await cli(['audit', '--state-dir', state, '--limit', '2'], {cwd})
    expect(limited.stdout.trimEnd().split('\n')).toHaveLength(3)
    expect(limited.stderr).toContain('Showing the newest 2 of 9 entries')
    const none = await cli(['audit', '--state-dir', state, '--env', 'nowhere'], {cwd})
    expect(none.code).toBe(0)
    expect(none.stdout).toContain('No audit entries match (9 in ')
  })

  test('the file is read as it is: nothing is written to it', () => {
    expect(readFileSync(file, 'utf8').split('\n')[2]).toBe('this is not json')
  })
})

describe('audit, with no trail yet', () => {
  test('an empty list and a clear message, exit 0', async () => {
    const state = join(cwd, 'empty')
    const r = await cli(['audit', '--state-dir', state], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('No audit entries')
    expect(r.stdout).toContain(join(state, 'audit.jsonl'))
    const j = await cli(['audit', '--state-dir', state, '--json'], {cwd})
    expect(j.code).toBe(0)
    expect(JSON.parse(j.stdout)).toEqual([])
  })
})
