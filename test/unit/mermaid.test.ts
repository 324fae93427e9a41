/**
 * Every Mermaid block the reports write is read by Mermaid itself (test/helpers/mermaid.ts):
 * parsed, then drawn, and the drawing checked against what was meant — each step's title as
 * written (a stray ":" or "#" would cut it or turn it into something else), its status, every
 * point of the weights chart. The run report's timeline for a rollout with awkward titles, a
 * failed and compensated run, an interrupted one; the DR drill's gantt and the drill history's
 * chart. And a broken block, to show the check can fail.
 */
import {describe, expect, test} from 'vitest'
import {drillMarkdown, drillResult, type DrillResult} from '../../src/lib/report/drill-report.js'
import {historyMarkdown} from '../../src/lib/report/drill-history-report.js'
import {runMarkdown} from '../../src/lib/report/run-report.js'
import {buildTimeline, mermaidString, mermaidText} from '../../src/lib/report/timeline.js'
import type {RunState} from '../../src/lib/engine/state.js'
import {mermaidBlocks, parseMermaid, renderMermaid, type SvgDocument} from '../helpers/mermaid.js'
import {at, failedRun, interruptedRun, run, step, trafficRun, TRICKY} from '../helpers/runs.js'

const texts = (doc: SvgDocument, selector: string): string[] => Array.from(doc.querySelectorAll(selector), (n) => (n.textContent ?? '').replace(/\s+/g, ' ').trim())
const classes = (doc: SvgDocument, selector: string): string[] => Array.from(doc.querySelectorAll(selector), (n) => n.getAttribute('class') ?? '')
const norm = (s: string) => s.replace(/\s+/g, ' ').trim()

/** Parse and draw a run report's blocks; return the drawn gantt and chart. */
async function reportDiagrams(s: RunState): Promise<{gantt: SvgDocument; chart?: SvgDocument; blocks: string[]}> {
  const blocks = mermaidBlocks(runMarkdown(s))
  expect(blocks.length).toBeGreaterThan(0)
  for (const b of blocks) expect(['gantt', 'xychart']).toContain(await parseMermaid(b))
  const [gantt, chart] = await Promise.all(blocks.map((b) => renderMermaid(b)))
  return {gantt: gantt!, chart, blocks}
}

/** The tasks a gantt drew: their names and their classes (crit, active, done). */
function tasks(doc: SvgDocument): {name: string; cls: string}[] {
  const names = texts(doc, 'text[id$="-text"]')
  const cls = classes(doc, 'rect.task')
  return names.map((name, i) => ({name, cls: cls[i]!}))
}

/** The points of an xychart's line: the x labels and how many vertices its path has. */
function chartPoints(doc: SvgDocument): {labels: string[]; vertices: number} {
  const d = doc.querySelectorAll('g[class^="line-plot"] path')[0]?.getAttribute('d') ?? ''
  return {labels: texts(doc, 'g.bottom-axis g.label text'), vertices: (d.match(/[ML]/g) ?? []).length}
}

describe('the run report timeline, read by Mermaid', () => {
  test('a rollout with titles full of Mermaid syntax: every title drawn as written, every shift charted', async () => {
    const s = trafficRun()
    const {gantt, chart, blocks} = await reportDiagrams(s)
    expect(blocks).toHaveLength(2)
    const ran = s.steps.filter((x) => x.status !== 'skipped')
    expect(tasks(gantt).map((t) => t.name)).toEqual(ran.map((x) => norm(x.title)))
    expect(tasks(gantt).every((t) => /\bdone\d\b/.test(t.cls))).toBe(true)
    // Sections: the runbook's own steps, then one per shift, its title as written.
    expect(texts(gantt, '.sectionTitle')).toEqual(['cutover', TRICKY.group10, 'Shift 50% to Kubernetes', 'Shift 100% to Kubernetes'])
    // Weights: where the run started (100/0) and after each of the three shifts.
    expect(texts(chart!, 'g.chart-title text')).toEqual(['Traffic to Kubernetes (% of DNS weight) over elapsed time'])
    expect(chartPoints(chart!)).toEqual({labels: ['00:00', '00:12', '00:40', '01:05'], vertices: 4})
  })

  test('a failed run: the failed gate is critical, the compensation has its own section, the shift back is charted', async () => {
    const s = failedRun()
    const {gantt, chart} = await reportDiagrams(s)
    const drawn = tasks(gantt)
    expect(drawn.map((t) => t.name)).toEqual([
      'Preflight — legacy stack healthy',
      'Set weights legacy 90 / kubernetes 10',
      'Bake 5s while the gates watch',
      'Set weights legacy 50 / kubernetes 50',
      'Bake 5s while the gates watch',
      'Shift traffic back (legacy)',
      'Wait out the TTL after shifting back',
    ])
    expect(drawn.filter((t) => /\bcrit\d\b/.test(t.cls)).map((t) => t.name)).toEqual(['Bake 5s while the gates watch'])
    expect(texts(gantt, '.sectionTitle')).toContain('↩ after Bake 5s while the gates watch failed')
    expect(chartPoints(chart!)).toEqual({labels: ['00:00', '00:09', '00:30', '00:41'], vertices: 4})
  })

  test('an interrupted run: the step in doubt is active and drawn to the interruption', async () => {
    const s = interruptedRun()
    const {gantt, chart} = await reportDiagrams(s)
    const drawn = tasks(gantt)
    expect(drawn.map((t) => t.name)).toEqual([
      'Preflight — legacy stack healthy',
      'Set weights legacy 90 / kubernetes 10',
      'Bake 5s while the gates watch',
      'Set weights legacy 50 / kubernetes 50',
    ])
    expect(drawn.at(-1)!.cls).toMatch(/\bactive\d\b/)
    // The weights meant by the step in doubt are not charted; those read back at the end are.
    expect(chartPoints(chart!)).toEqual({labels: ['00:00', '00:09', '00:17'], vertices: 3})
  })

  test('a run without traffic steps has a gantt and no chart; changes within one second get distinct labels', async () => {
    const plain = run([step('plan', 'terraform plan: 3 to add', 'terraform', 'succeeded', 0, 2), step('apply', 'terraform apply', 'terraform', 'failed', 2, 3)], {status: 'failed'})
    const {gantt, chart, blocks} = await reportDiagrams(plain)
    expect(blocks).toHaveLength(1)
    expect(chart).toBeUndefined()
    expect(tasks(gantt).map((t) => t.name)).toEqual(['terraform plan: 3 to add', 'terraform apply'])

    const s = trafficRun()
    // Three shifts in the same second: the chart's labels must not fold them into one point.
    const fast = s.steps.filter((x) => x.kind === 'dns-weights')
    fast.forEach((x, i) => Object.assign(x, {startedAt: at(4 + i * 0.2), endedAt: at(4.1 + i * 0.2)}))
    const {chart: c} = await reportDiagrams(s)
    const p = chartPoints(c!)
    expect(p.vertices).toBe(4)
    expect(new Set(p.labels).size).toBe(4)
    expect(buildTimeline(s).weights).toHaveLength(4)
  })

  test('the check can fail: a broken block is refused, and so is a gantt written without escaping', async () => {
    await expect(parseMermaid('xychart-beta\n  x-axis ["a", "b"]\n  line [0, 10')).rejects.toThrow(/Parse error/)
    await expect(parseMermaid('gantt\n  dateFormat x\n  section\n')).rejects.toThrow()
    // Titles written raw pass the grammar and go wrong only when drawn: that is why the drawing
    // is checked too. A ":" ends the name early, and what follows it is read as the task's data…
    const task = (title: string) => `gantt\n  dateFormat x\n  ${title} :done, ${Date.parse(at(0))}, ${Date.parse(at(1))}`
    await expect(parseMermaid(task('Check: ok'))).resolves.toBe('gantt')
    expect(tasks(await renderMermaid(task('Check: ok')))).toEqual([{name: 'Check', cls: 'task task0'}])
    await expect(parseMermaid(task(TRICKY.preflight))).resolves.toBe('gantt')
    await expect(renderMermaid(task(TRICKY.preflight))).rejects.toThrow()
    // …and a "%" as the second character makes the whole line a comment: the step vanishes.
    expect(tasks(await renderMermaid(task(TRICKY.percent)))).toEqual([])
    expect(tasks(await renderMermaid(task(mermaidText(TRICKY.percent)))).map((t) => t.name)).toEqual([TRICKY.percent])
    // A quote ends an xychart string early: the chart is refused unless it is escaped.
    const chart = (title: string) => `xychart-beta\n  title ${title}\n  x-axis ["a", "b"]\n  line [1, 2]`
    const awkward = `say "hi" #1: 5% ✅`
    await expect(parseMermaid(chart(`"${awkward}"`))).rejects.toThrow()
    expect(texts(await renderMermaid(chart(mermaidString(awkward))), 'g.chart-title text')).toEqual([awkward])
  })
})

/** A DR drill's run, as its steps record it (restore, validate, cleanup). */
function drillRun(startSec: number, verdict: 'pass' | 'fail'): DrillResult {
  const t = (x: number) => at(startSec + x)
  const s = run(
    [
      step('restore', 'Restore clipper-db to 2026-11-23T10:10:00Z', 'rds-restore', 'succeeded', startSec, startSec + 300, {
        outputs: {acceptedAt: t(2), availableAt: t(290), instance: 'clipper-drill-1', region: 'eu-west-1', restoreTime: '2026-11-23T10:10:00Z'},
      }),
      step('validate', 'Validate: row counts; newest row', 'sql-check', 'succeeded', startSec + 300, startSec + 320, {
        outputs: {
          connectedAt: t(305),
          validatedAt: t(320),
          newestRow: t(-60),
          rtoMs: 320_000,
          rtoTargetMs: 3_600_000,
          rtoMet: true,
          rpoMs: 60_000,
          rpoTargetMs: 900_000,
          rpoMet: verdict === 'pass',
          checks: [{name: 'orders', value: 10, ok: true, detail: '10 rows | more than 0'}],
        },
      }),
      step('cleanup', 'Delete the scratch instance', 'rds-delete', 'succeeded', startSec + 320, startSec + 400, {outputs: {deletedAt: t(400)}}),
    ],
    {
      runbook: {name: 'dr-drill', file: 'runbooks/dr-drill.yaml', sha256: 'x', builtin: true},
      params: {from: 'latest'},
      createdAt: t(0),
      status: verdict === 'pass' ? 'succeeded' : 'failed',
    },
  )
  return drillResult(s, {instance: 'clipper-drill-1', result: 'deleted'})
}

describe("the DR drill's reports, read by Mermaid", () => {
  test("the drill report's gantt of phases", async () => {
    const d = drillRun(0, 'pass')
    const blocks = mermaidBlocks(drillMarkdown(d))
    expect(blocks).toHaveLength(1)
    expect(await parseMermaid(blocks[0]!)).toBe('gantt')
    const gantt = await renderMermaid(blocks[0]!)
    expect(tasks(gantt).map((x) => x.name.replace(/ \(.*\)$/, ''))).toEqual(['request accepted', 'available', 'connectable', 'validated', 'deleted'])
  })

  test("the drill history's chart of RTO and RPO, drills in the same minute included", async () => {
    // Two drills a few seconds apart (a retry, or tests): each must stay its own point.
    const drills = [drillRun(0, 'pass'), drillRun(20, 'fail'), drillRun(86_400, 'pass')]
    const blocks = mermaidBlocks(historyMarkdown('sandbox', drills))
    expect(blocks).toHaveLength(1)
    expect(await parseMermaid(blocks[0]!)).toBe('xychart')
    const chart = await renderMermaid(blocks[0]!)
    expect(texts(chart, 'g.chart-title text')).toEqual(['RTO and RPO of sandbox (seconds; targets 1h and 15m)'])
    const labels = texts(chart, 'g.bottom-axis g.label text')
    expect(new Set(labels).size).toBe(3)
    const lines = Array.from(chart.querySelectorAll('g[class^="line-plot"] path'), (p) => ((p.getAttribute('d') ?? '').match(/[ML]/g) ?? []).length)
    expect(lines).toEqual([3, 3])
  })
})
