/**
 * --dry-run is exact and harmless: no mutating step runs (their effects are absent afterwards),
 * no run is recorded, and the plan says, step by step, what would happen — as a table, as
 * Markdown for a review, and as JSON with a fingerprint that a saved plan is checked against.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {cli, readJournal, removeDir, tempDir} from '../helpers/cli.js'

let cwd: string
let rb: string
const state = () => join(cwd, 'state')
beforeAll(() => {
  cwd = tempDir()
  rb = join(cwd, 'make.yaml')
  writeFileSync(
    rb,
    `version: 1
name: make
parameters:
  dir: {type: string, required: true}
  settle: {type: duration, default: 90s}
onFailure:
  - id: cleanup
    uses: exec
    with: {command: rm, args: [-f, '\${{ params.dir }}/made'], idempotent: true}
steps:
  - id: make
    uses: exec
    with:
      command: touch
      args: ['\${{ params.dir }}/made']
      creates: '\${{ params.dir }}/made'
  - id: note
    uses: exec
    with:
      command: sh
      args: [-c, 'echo ran >> "$1/notes"', sh, '\${{ params.dir }}']
  - id: read
    uses: exec
    with: {command: cat, args: ['\${{ params.dir }}/made'], mutates: false}
  - id: ask
    uses: approval
    with: {message: Really?}
  - id: settle
    uses: wait
    with: {duration: '\${{ params.settle }}'}
`,
  )
})
afterAll(() => removeDir(cwd))

describe('--dry-run', () => {
  test('changes nothing, records no run, and lists every change', async () => {
    const r = await cli(['run', rb, '--dry-run', '-p', `dir=${cwd}`, '--state-dir', state()], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(cwd, 'made'))).toBe(false)
    expect(existsSync(join(cwd, 'notes'))).toBe(false)
    expect(existsSync(join(state(), 'runs'))).toBe(false)
    expect(r.stdout).toContain('dry run, nothing was changed')
    expect(r.stdout).toContain(`run touch ${cwd}/made`)
    expect(r.stdout).toContain('check says not done yet')
    expect(r.stdout).toContain('ask Really?')
    expect(r.stdout).toContain('wait 1m30s')
    expect(r.stdout).toContain('If any of make, note, read, ask or settle fails:')
    expect(r.stdout).toContain(`rm -f ${cwd}/made`)
    expect(r.stdout).toMatch(/Estimated time: 1m30s/)
  })

  test('markdown is a change review; json has a fingerprint', async () => {
    const md = await cli(['run', rb, '--dry-run', '-o', 'markdown', '-p', `dir=${cwd}`, '--state-dir', state()], {cwd})
    expect(md.code).toBe(0)
    expect(md.stdout).toContain('## clipper-ops plan: `make`')
    expect(md.stdout).toMatch(/\| 1 \| touch \S+\/made \| `exec` \| run touch/)
    expect(md.stdout).toContain('### Rollback plan')
    const js = await cli(['run', rb, '--dry-run', '-o', 'json', '-p', `dir=${cwd}`, '--state-dir', state()], {cwd})
    const plan = JSON.parse(js.stdout)
    expect(plan.kind).toBe('clipper-ops-plan')
    expect(plan.steps.map((s: {id: string}) => s.id)).toEqual(['make', 'note', 'read', 'ask', 'settle'])
    expect(plan.steps.find((s: {id: string}) => s.id === 'read').mutates).toBe(false)
    expect(plan.fingerprint).toMatch(/^[0-9a-f]{64}$/)
  })

  test('a saved plan applies while the world is unchanged, and is refused once it moved on', async () => {
    const dir = tempDir()
    const planFile = join(dir, 'plan.json')
    const p = ['-p', `dir=${dir}`, '-p', 'settle=10ms', '--state-dir', join(dir, 's')]
    expect((await cli(['run', rb, '--dry-run', '--save-plan', planFile, ...p], {cwd})).code).toBe(0)
    const applied = await cli(['run', rb, '--plan', planFile, '--yes', ...p], {cwd})
    expect(applied.code, applied.stderr).toBe(0)
    expect(readFileSync(join(dir, 'notes'), 'utf8')).toBe('ran\n')

    // A new plan sees the file in place; then someone removes it: the plan's observation is stale.
    expect((await cli(['run', rb, '--dry-run', '--save-plan', planFile, ...p], {cwd})).code).toBe(0)
    const {rmSync} = await import('node:fs')
    rmSync(join(dir, 'made'))
    const stale = await cli(['run', rb, '--plan', planFile, '--yes', ...p], {cwd})
    expect(stale.code).toBe(2)
    expect(stale.stderr).toContain('is stale')
    expect(stale.stderr).toMatch(/the live state has changed since the plan was made, as these steps read it: make \(planned: .*; now: .*\)/)
    expect(readFileSync(join(dir, 'notes'), 'utf8')).toBe('ran\n')
    const other = await cli(['run', rb, '--plan', planFile, '--yes', '-p', 'dir=/elsewhere', '-p', 'settle=10ms', '--state-dir', join(dir, 's')], {cwd})
    expect(other.code).toBe(2)
    expect(other.stderr).toContain('the parameters differ')
    removeDir(dir)
  })

  test('--save-plan needs --dry-run; --plan excludes it', async () => {
    const a = await cli(['run', rb, '--save-plan', 'x.json', '-p', 'dir=/x', '--state-dir', state()], {cwd})
    expect(a.code).toBe(2)
    expect(a.stderr).toContain('--dry-run')
    const b = await cli(['run', rb, '--plan', 'x.json', '--dry-run', '-p', 'dir=/x', '--state-dir', state()], {cwd})
    expect(b.code).toBe(2)
  })

  test('the journal of a real run starts with an intent before every side effect', async () => {
    const dir = tempDir()
    const r = await cli(['run', rb, '--yes', '-p', `dir=${dir}`, '-p', 'settle=10ms', '--state-dir', join(dir, 's'), '--output', 'json'], {cwd})
    // --output json streams the engine's events as JSON lines on stdout, each with its run id.
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(r.code, r.stderr).toBe(0)
    const runId = events[0].runId
    expect(events.every((e) => e.runId === runId)).toBe(true)
    const shown = events.filter((e) => e.stepId === 'note').map((e) => e.type)
    expect([shown[0], shown.at(-1)]).toEqual(['step.started', 'step.succeeded'])
    expect(events.at(-1)).toMatchObject({type: 'run.finished', status: 'succeeded', reports: {markdown: join(dir, 's', 'runs', runId, 'report.md')}})
    // The journal records the intent before the side effect, and the result after it.
    const order = readJournal(join(dir, 's'), runId)
      .filter((e) => e.stepId === 'note')
      .map((e) => e.type)
    expect(order.slice(0, 1)).toEqual(['step.intent'])
    expect(order.at(-1)).toBe('step.succeeded')
    expect(readFileSync(join(dir, 'notes'), 'utf8')).toBe('ran\n')
    removeDir(dir)
  })
})
