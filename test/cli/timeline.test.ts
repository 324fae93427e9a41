/**
 * The timeline of a real run, end to end: the built CLI runs a runbook whose step names are
 * full of Mermaid syntax, with a group and a failure that is compensated; its report.md's
 * Mermaid gantt is read by Mermaid itself, and `runs show` prints the same timeline as text and
 * as JSON. (The weights chart needs a traffic run: test/unit/mermaid.test.ts and
 * test/unit/timeline.test.ts build those from state.)
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {stringify} from 'yaml'
import {cli, removeDir, tempDir} from '../helpers/cli.js'
import {mermaidBlocks, parseMermaid, renderMermaid} from '../helpers/mermaid.js'

let cwd: string
beforeAll(() => {
  cwd = tempDir()
  writeFileSync(join(cwd, 'clipper-ops.yaml'), 'version: 1\nenvironments:\n  dev: {}\n')
})
afterAll(() => removeDir(cwd))

const pause = (s: number) => ({command: 'sleep', args: [String(s)], idempotent: true})

describe('the timeline of a run', () => {
  test('report.md carries a gantt Mermaid draws as meant; runs show prints the same timeline', async () => {
    const rb = join(cwd, 'pictured.yaml')
    writeFileSync(
      rb,
      stringify({
        version: 1,
        name: 'pictured',
        onFailure: [{id: 'undo', name: 'Undo: put it back; #2', uses: 'exec', with: pause(0.1)}],
        steps: [
          {id: 'first', name: 'Preflight: check #1; 100% sure', uses: 'exec', with: pause(0.2)},
          {
            id: 'shift',
            name: 'Shift ${{ weight }}% to Kubernetes',
            forEach: [10, 50],
            as: 'weight',
            steps: [{id: 'work', name: 'Work at ${{ weight }}%: go', uses: 'exec', with: pause(0.1)}],
          },
          {id: 'boom', name: 'title: the failing one', uses: 'exec', with: {command: 'sh', args: ['-c', 'exit 3'], idempotent: true}},
          {id: 'never', name: 'Never reached', uses: 'exec', with: pause(0)},
        ],
      }),
    )
    const s = join(cwd, 'st')
    const r = await cli(['run', rb, '--env', 'dev', '--state-dir', s, '--json'], {cwd})
    expect(r.code, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout)

    const report = readFileSync(out.reports.markdown, 'utf8')
    expect(report).toContain('## Timeline')
    const blocks = mermaidBlocks(report)
    expect(blocks).toHaveLength(1)
    expect(await parseMermaid(blocks[0]!)).toBe('gantt')
    const gantt = await renderMermaid(blocks[0]!)
    const names = Array.from(gantt.querySelectorAll('text[id$="-text"]'), (n) => (n.textContent ?? '').trim())
    expect(names).toEqual(['Preflight: check #1; 100% sure', 'Work at 10%: go', 'Work at 50%: go', 'title: the failing one', 'Undo: put it back; #2'])
    const cls = Array.from(gantt.querySelectorAll('rect.task'), (n) => n.getAttribute('class') ?? '')
    expect(cls.map((c) => (/\bcrit\d\b/.test(c) ? 'crit' : /\bdone\d\b/.test(c) ? 'done' : c))).toEqual(['done', 'done', 'done', 'crit', 'done'])
    const sections = Array.from(gantt.querySelectorAll('.sectionTitle'), (n) => (n.textContent ?? '').trim())
    expect(sections).toEqual(['pictured', 'Shift 10% to Kubernetes', 'Shift 50% to Kubernetes', 'pictured (2)', '↩ after title: the failing one failed'])

    const show = await cli(['runs', 'show', 'latest', '--state-dir', s], {cwd})
    expect(show.code, show.stderr).toBe(0)
    const text = show.stdout.slice(show.stdout.indexOf('Timeline (from '))
    expect(text).toMatch(/^ {2}\+\d\d:\d\d\.\d +\S+ {2}✔ Preflight: check #1; 100% sure$/m)
    expect(text).toMatch(/^ {2}Shift 50% to Kubernetes\n {2}\+\d\d:\d\d\.\d +\S+ {2}✔ {3}Work at 50%: go$/m)
    expect(text).toMatch(/^ {2}\+\d\d:\d\d\.\d +\S+ {2}✖ title: the failing one$/m)
    expect(text).toMatch(/^ {2}↩ after title: the failing one failed\n {2}\+\d\d:\d\d\.\d +\S+ {2}✔ {3}Undo: put it back; #2$/m)
    expect(text).toMatch(/^ +· Never reached \(not reached\)$/m)

    const json = await cli(['runs', 'show', 'latest', '--state-dir', s, '--json'], {cwd})
    const t = JSON.parse(json.stdout).timeline
    expect(t.startedAt).toBe(out.createdAt)
    expect(t.weights).toEqual([])
    expect(t.steps.map((x: {id: string}) => x.id)).toEqual(out.steps.map((x: {id: string}) => x.id))
    const ran = t.steps.filter((x: {offsetMs?: number}) => x.offsetMs !== undefined)
    expect(ran).toHaveLength(5)
    // Offsets follow the order the steps ran in, and each step's wall time is at least its sleep.
    const offsets = ran.map((x: {offsetMs: number}) => x.offsetMs)
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
    expect(ran[0].elapsedMs).toBeGreaterThanOrEqual(200)
  })
})
