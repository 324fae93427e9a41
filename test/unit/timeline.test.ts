/**
 * A run's timeline from its state: step offsets and durations, the weights over time (from the
 * dns-weights steps' records, the step in doubt, the weights read back at the end), and how
 * each is written — plain lines for `runs show`, Mermaid for report.md (whose parsing and
 * drawing test/unit/mermaid.test.ts checks with Mermaid itself).
 */
import {describe, expect, test} from 'vitest'
import {runMarkdown} from '../../src/lib/report/run-report.js'
import {
  buildTimeline,
  clock,
  elapsedLabels,
  ganttMermaid,
  kubernetesPercent,
  mermaidString,
  mermaidText,
  timelineText,
  weightsLine,
  weightsMermaid,
} from '../../src/lib/report/timeline.js'
import {at, failedRun, group, interruptedRun, run, shift, step, T0, trafficRun} from '../helpers/runs.js'

const points = (s: ReturnType<typeof trafficRun>) => buildTimeline(s).weights.map((p) => [p.offsetMs, p.legacy, p.kubernetes, p.kubernetesPercent, p.source])

describe('the timeline model', () => {
  test('steps: offset from the run start, wall time, the engine duration; steps that never ran have none', () => {
    const t = buildTimeline(trafficRun())
    expect(t.startedAt).toBe(at(0))
    expect(t.endedAt).toBe(at(75.5))
    const byId = Object.fromEntries(t.steps.map((x) => [x.id, x]))
    expect(byId['legacy-health']).toMatchObject({offsetMs: 0, elapsedMs: 1200, durationMs: 1200, status: 'succeeded', section: 'cutover'})
    expect(byId['shift[50].weights']).toMatchObject({offsetMs: 22_000, elapsedMs: 18_000, group: 'shift[50]', section: 'Shift 50% to Kubernetes'})
    expect(byId['shift[10].approve']!.offsetMs).toBeUndefined()
    expect(byId['shift[10].approve']!.elapsedMs).toBeUndefined()
  })

  test('a step in doubt runs to the last event; compensating steps are their own section', () => {
    const i = buildTimeline(interruptedRun()).steps.find((x) => x.status === 'running')!
    expect(i).toMatchObject({offsetMs: 14_000, elapsedMs: 3000})
    expect(i.durationMs).toBeUndefined()
    const f = buildTimeline(failedRun()).steps
    expect(f.filter((x) => x.compensationFor).map((x) => x.section)).toEqual(['↩ after Bake 5s while the gates watch failed', '↩ after Bake 5s while the gates watch failed'])
    const pending = f.find((x) => x.status === 'pending')!
    expect([pending.offsetMs, pending.elapsedMs]).toEqual([undefined, undefined])
    // An approval the run stopped at (not given, or Ctrl-C at the prompt) is pending again, but it
    // took the time until the run stopped.
    const paused = run([step('approve', 'Shift 50%?', 'approval', 'pending', 2, undefined, {summary: 'Approval not given'})], {status: 'interrupted', endedAt: at(9)})
    expect(buildTimeline(paused).steps[0]).toMatchObject({offsetMs: 2000, elapsedMs: 7000})
    expect(ganttMermaid(paused)).toContain(`  Shift 50#37;? :active, ${T0 + 2000}, ${T0 + 9000}`)
    expect(timelineText(paused)[1]).toBe('  +00:02.0   7s  · Shift 50%? (stopped here; runs again on resume)')
  })

  test('weights: the first change’s before at the start, then each step’s after at its end', () => {
    expect(points(trafficRun())).toEqual([
      [0, 100, 0, 0, 'before'],
      [12_000, 90, 10, 10, 'step'],
      [40_000, 50, 50, 50, 'step'],
      [65_000, 0, 100, 100, 'step'],
    ])
    // A failed gate's shift back is a change like any other.
    expect(points(failedRun()).at(-1)).toEqual([41_000, 100, 0, 0, 'step'])
  })

  test('weights: a run that starts from existing weights starts the line there; a no-op shift adds nothing', () => {
    const s = run([
      shift('a', 'Set weights legacy 50 / kubernetes 50', 2, 3, [50, 50], [50, 50], {changes: [{action: 'none', target: 'clpr.tv. A'}]}),
      shift('b', 'Set weights legacy 20 / kubernetes 80', 3, 10, [50, 50], [20, 80]),
    ])
    expect(points(s)).toEqual([
      [0, 50, 50, 50, 'before'],
      [10_000, 20, 80, 80, 'step'],
    ])
    expect(weightsLine(buildTimeline(s))).toBe('00:00 legacy 50/k8s 50 → 00:10 20/80')
  })

  test('weights: the step in doubt shows what it meant to set; the live weights read back close the line', () => {
    expect(points(interruptedRun())).toEqual([
      [0, 100, 0, 0, 'before'],
      [9000, 90, 10, 10, 'step'],
      [14_000, 50, 50, 50, 'in-doubt'],
      [17_500, 50, 50, 50, 'read-back'],
    ])
    // Weights read back that match the last change add no point.
    const s = trafficRun()
    s.world = [{kind: 'dns-weights', at: at(80), summary: 'traffic now', data: {weights: {legacy: 0, kubernetes: 100}}}]
    expect(points(s)).toHaveLength(4)
    // A run without traffic steps has no weights, whatever else it read back.
    expect(buildTimeline(run([step('x', 'x', 'exec', 'succeeded', 0, 1)])).weights).toEqual([])
  })

  test("a record that is missing counts as weight 0; all-zero is Route 53's equal split", () => {
    const s = run([step('w', 'convert', 'dns-weights', 'succeeded', 0, 5, {outputs: {before: {legacy: 100}, after: {legacy: 255, kubernetes: 0}}})])
    expect(points(s)).toEqual([
      [0, 100, 0, 0, 'before'],
      [5000, 255, 0, 0, 'step'],
    ])
    expect(kubernetesPercent({legacy: 0, kubernetes: 0})).toBe(50)
    expect(kubernetesPercent({legacy: 2, kubernetes: 1})).toBe(33.3)
  })
})

describe('the text timeline (runs show)', () => {
  test('one line per step: offset, duration, status, title; group headers; the weights line', () => {
    expect(timelineText(failedRun())).toEqual([
      'Timeline (from 2026-11-23 10:15:00Z):',
      '  +00:00.0   1s  ✔ Preflight — legacy stack healthy',
      '  Shift 10% to Kubernetes',
      '  +00:01.0   8s  ✔   Set weights legacy 90 / kubernetes 10',
      '  +00:09.0   5s  ✔   Bake 5s while the gates watch',
      '  Shift 50% to Kubernetes',
      '  +00:14.0  16s  ✔   Set weights legacy 50 / kubernetes 50',
      '  +00:30.0   3s  ✖   Bake 5s while the gates watch',
      '  ↩ after Bake 5s while the gates watch failed',
      '  +00:33.0   8s  ✔   Shift traffic back (legacy)',
      '  +00:41.0   5s  ✔   Wait out the TTL after shifting back',
      '                 · Set weights legacy 0 / kubernetes 100 (not reached)',
      'Weights (legacy/kubernetes): 00:00 legacy 100/k8s 0 → 00:09 90/10 → 00:30 50/50 → 00:41 100/0',
    ])
  })

  test('an interrupted run: the step in doubt says so, and so do its weights', () => {
    const lines = timelineText(interruptedRun())
    expect(lines).toContain('  +00:14.0   3s  ?   Set weights legacy 50 / kubernetes 50 (in doubt: started, result not recorded)')
    expect(lines.at(-1)).toBe('Weights (legacy/kubernetes): 00:00 legacy 100/k8s 0 → 00:09 90/10 → 00:14 50/50 (in doubt) → 00:17 50/50 (read back)')
  })

  test('offsets past an hour, and finer labels when changes share a second', () => {
    expect(clock(0)).toBe('00:00')
    expect(clock(61_999)).toBe('01:01')
    expect(clock(3_723_456)).toBe('1:02:03')
    expect(clock(12_345, 1)).toBe('00:12.3')
    expect(clock(12_345, 3)).toBe('00:12.345')
    expect(elapsedLabels([0, 12_000, 40_000])).toEqual(['00:00', '00:12', '00:40'])
    expect(elapsedLabels([0, 12_100, 12_900])).toEqual(['00:00.0', '00:12.1', '00:12.9'])
    expect(elapsedLabels([0, 12_010, 12_020])).toEqual(['00:00.000', '00:12.010', '00:12.020'])
    expect(elapsedLabels([5, 5])).toEqual(['00:00.005 (1)', '00:00.005 (2)'])
    const s = run([step('long', 'Restore the database', 'rds-restore', 'succeeded', 0, 4000)])
    expect(timelineText(s)[1]).toBe('  +00:00.0 1h6m40s  ✔ Restore the database')
  })
})

describe('the Mermaid text', () => {
  test('gantt: a task per step that ran, with its dates in ms, status tags and sections', () => {
    const g = ganttMermaid(failedRun()).split('\n')
    expect(g.slice(0, 5)).toEqual(['gantt', '  title cutover on sandbox — failed', '  dateFormat x', '  axisFormat %H:%M:%S', '  todayMarker off'])
    expect(g).toContain(`  Bake 5s while the gates watch :crit, ${T0 + 30_000}, ${T0 + 33_000}`)
    expect(g).toContain(`  Shift traffic back (legacy) :done, ${T0 + 33_000}, ${T0 + 41_000}`)
    expect(g).toContain('  section ↩ after Bake 5s while the gates watch failed')
    expect(g.filter((l) => l.startsWith('  section '))).toEqual([
      '  section cutover',
      '  section Shift 10#37; to Kubernetes',
      '  section Shift 50#37; to Kubernetes',
      '  section ↩ after Bake 5s while the gates watch failed',
    ])
    // A section name that comes back is numbered: Mermaid would draw both as one band.
    const again = run([
      step('a', 'a', 'exec', 'succeeded', 0, 1),
      step('b', 'b', 'exec', 'succeeded', 1, 2, {group: group('g[1]', 'G', 1, 0)}),
      step('c', 'c', 'exec', 'succeeded', 2, 3),
    ])
    expect(
      ganttMermaid(again)
        .split('\n')
        .filter((l) => l.startsWith('  section ')),
    ).toEqual(['  section cutover', '  section G', '  section cutover (2)'])
    // The step not reached is not drawn.
    expect(g.some((l) => l.includes('legacy 0 / kubernetes 100'))).toBe(false)
    expect(ganttMermaid(interruptedRun())).toContain(`  Set weights legacy 50 / kubernetes 50 :active, ${T0 + 14_000}, ${T0 + 17_000}`)
  })

  test('escapes: the characters of the gantt grammar become entities; keywords lose their first letter to one', () => {
    expect(mermaidText('a: b; #c %d')).toBe('a#58; b#59; #35;c #37;d')
    expect(mermaidText('title of the step')).toBe('#116;itle of the step')
    expect(mermaidText('Section check')).toBe('#83;ection check')
    expect(mermaidText('2026-11-23 backup')).toBe('#50;026-11-23 backup')
    expect(mermaidText('Titled, not a keyword')).toBe('Titled, not a keyword')
    expect(mermaidText('line one\nline two')).toBe('line one line two')
    expect(mermaidString('say "hi" #1: 5%')).toBe('"say #34;hi#34; #35;1: 5%"')
  })

  test('weights chart: kubernetes % per change over elapsed-time labels; none without a change', () => {
    expect(weightsMermaid(buildTimeline(trafficRun()))).toBe(
      [
        'xychart-beta',
        '  title "Traffic to Kubernetes (% of DNS weight) over elapsed time"',
        '  x-axis ["00:00", "00:12", "00:40", "01:05"]',
        '  y-axis "kubernetes %" 0 --> 100',
        '  line [0, 10, 50, 100]',
      ].join('\n'),
    )
    expect(weightsMermaid(buildTimeline(interruptedRun()))).toContain('  line [0, 10, 50]')
    const noop = run([shift('a', 'Set weights legacy 100 / kubernetes 0', 0, 1, [100, 0], [100, 0])])
    expect(weightsMermaid(buildTimeline(noop))).toBeUndefined()
  })

  test("report.md's Timeline section: the gantt, then the weights chart and line", () => {
    const md = runMarkdown(trafficRun())
    // After the steps, before the changes made.
    expect(md.indexOf('## Steps')).toBeLessThan(md.indexOf('## Timeline'))
    const section = md.slice(md.indexOf('## Timeline'), md.indexOf('## Changes made'))
    expect(section).toMatch(
      /^## Timeline\n\n```mermaid\ngantt\n[\s\S]*?\n```\n\nWeights over time:\n\n```mermaid\nxychart-beta\n[\s\S]*?\n```\n\n00:00 legacy 100\/k8s 0 → 00:12 90\/10 → 00:40 50\/50 → 01:05 0\/100\n\n$/,
    )
    const plain = runMarkdown(run([step('x', 'terraform apply', 'terraform', 'succeeded', 0, 3)]))
    expect(plain).toContain('## Timeline')
    expect(plain).not.toContain('xychart')
    expect(runMarkdown(run([step('x', 'approve', 'approval', 'skipped', undefined, 0)]))).toContain('## Timeline\n\nNo step ran.\n\n')
  })
})
