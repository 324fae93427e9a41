/**
 * Synthetic run states, as the engine leaves them in state.json: a rollout that shifted traffic
 * (with step titles chosen to trip Mermaid), one whose gate failed and was compensated, and one
 * interrupted in the middle of a shift.
 */
import type {RunState, StepRecord, StepStatus} from '../../src/lib/engine/state.js'

export const T0 = Date.parse('2026-11-23T10:15:00.000Z')
/** The time `sec` seconds after the run's start. */
export const at = (sec: number): string => new Date(T0 + Math.round(sec * 1000)).toISOString()

type Group = StepRecord['group']

export function step(id: string, title: string, kind: string, status: StepStatus, from?: number, to?: number, extra: Partial<StepRecord> = {}): StepRecord {
  return {
    id,
    specPath: `steps[${id}]`,
    kind,
    title,
    status,
    attempts: from === undefined ? 0 : 1,
    notes: {},
    ...(from !== undefined ? {startedAt: at(from)} : {}),
    ...(to !== undefined ? {endedAt: at(to)} : {}),
    ...(from !== undefined && to !== undefined && status !== 'skipped' ? {durationMs: Math.round((to - from) * 1000)} : {}),
    ...extra,
  }
}

export function group(id: string, title: string, item: unknown, index: number): Group {
  return {id, title, item, index}
}

/** A dns-weights step that moved the weights from `before` to `after`. */
export function shift(id: string, title: string, from: number, to: number, before: [number, number], after: [number, number], extra: Partial<StepRecord> = {}): StepRecord {
  return step(id, title, 'dns-weights', 'succeeded', from, to, {
    inputs: {legacy: after[0], kubernetes: after[1]},
    outputs: {before: {legacy: before[0], kubernetes: before[1]}, after: {legacy: after[0], kubernetes: after[1]}, ttlSeconds: 5, changeId: `C-${id}`},
    changes: [{action: 'update', target: 'clpr.tv. A [k8s] weight', before: before[1], after: after[1]}],
    ...extra,
  })
}

export function run(steps: StepRecord[], extra: Partial<RunState> = {}): RunState {
  const last = Math.max(0, ...steps.map((s) => Date.parse(s.endedAt ?? s.startedAt ?? at(0)) - T0))
  const endedAt = new Date(T0 + last + 500).toISOString()
  return {
    schema: 1,
    id: '20261123-101500-cutover-ab12',
    seq: 42,
    status: 'succeeded',
    runbook: {name: 'cutover', file: 'runbooks/cutover.yaml', sha256: 'x', builtin: true},
    environment: 'sandbox',
    lockScope: 'sandbox',
    params: {steps: [10, 50, 100], bake: '5s'},
    protected: false,
    who: {user: 'oncall', host: 'laptop', pid: 1},
    createdAt: at(0),
    updatedAt: endedAt,
    endedAt,
    durationMs: last + 500,
    steps,
    attempts: [{startedAt: at(0), pid: 1, user: 'oncall', host: 'laptop', resumed: false, endedAt, outcome: 'succeeded'}],
    ...extra,
  }
}

/** Titles with every character that means something to Mermaid's gantt or xychart grammar. */
export const TRICKY = {
  preflight: 'Preflight — legacy stack healthy: 10/10 requests; p95 < 2s #1',
  keyword: `Title: "quoted" and 'single' — 100% sure`,
  section: 'section ünïcødé ✅ → 日本語 check',
  date: '2026-11-23 backup; click #here',
  percent: '5% canary %% not a comment',
  html: 'a &amp; b <b>bold</b> #58; literally',
  group10: 'Shift 10% to Kubernetes: step #1; go',
}

/** A rollout 10% → 50% → 100% that succeeded. */
export function trafficRun(): RunState {
  const g10 = group('shift[10]', TRICKY.group10, 10, 0)
  const g50 = group('shift[50]', 'Shift 50% to Kubernetes', 50, 1)
  const g100 = group('shift[100]', 'Shift 100% to Kubernetes', 100, 2)
  return run([
    step('legacy-health', TRICKY.preflight, 'http-check', 'succeeded', 0, 1.2),
    step('kubernetes-health', TRICKY.keyword, 'http-check', 'succeeded', 1.2, 2.5),
    step('kubernetes-ready', TRICKY.section, 'gate-kubernetes', 'succeeded', 2.5, 3),
    step('records', TRICKY.date, 'dns-check', 'succeeded', 3, 3.4),
    step('rollback-path', TRICKY.percent, 'compose', 'succeeded', 3.4, 4),
    step('shift[10].approve', 'approve', 'approval', 'skipped', undefined, 4, {group: g10, summary: 'condition is false'}),
    shift('shift[10].weights', 'Set weights legacy 90 / kubernetes 10', 4, 12, [100, 0], [90, 10], {group: g10}),
    step('shift[10].ttl', 'Wait out the TTL', 'wait', 'succeeded', 12, 17, {group: g10}),
    step('shift[10].bake', TRICKY.html, 'gates', 'succeeded', 17, 22, {group: g10}),
    shift('shift[50].weights', 'Set weights legacy 50 / kubernetes 50', 22, 40, [90, 10], [50, 50], {group: g50}),
    step('shift[50].ttl', 'Wait out the TTL', 'wait', 'succeeded', 40, 45, {group: g50}),
    step('shift[50].bake', 'Bake 5s while the gates watch', 'gates', 'succeeded', 45, 50, {group: g50}),
    shift('shift[100].weights', 'Set weights legacy 0 / kubernetes 100', 50, 65, [50, 50], [0, 100], {group: g100}),
    step('shift[100].ttl', 'Wait out the TTL', 'wait', 'succeeded', 65, 70, {group: g100}),
    step('shift[100].bake', 'Bake 5s while the gates watch', 'gates', 'succeeded', 70, 75, {group: g100}),
  ])
}

/** The gate at 50% failed; the compensating steps shifted traffic back to legacy. */
export function failedRun(): RunState {
  const g10 = group('shift[10]', 'Shift 10% to Kubernetes', 10, 0)
  const g50 = group('shift[50]', 'Shift 50% to Kubernetes', 50, 1)
  return run(
    [
      step('legacy-health', 'Preflight — legacy stack healthy', 'http-check', 'succeeded', 0, 1),
      shift('shift[10].weights', 'Set weights legacy 90 / kubernetes 10', 1, 9, [100, 0], [90, 10], {group: g10}),
      step('shift[10].bake', 'Bake 5s while the gates watch', 'gates', 'succeeded', 9, 14, {group: g10}),
      shift('shift[50].weights', 'Set weights legacy 50 / kubernetes 50', 14, 30, [90, 10], [50, 50], {group: g50}),
      step('shift[50].bake', 'Bake 5s while the gates watch', 'gates', 'failed', 30, 33, {
        group: g50,
        error: {message: 'Kubernetes 5xx ratio: 1 of 1 sample(s) outside ≤ 0.001', code: 'GATE_FAILED'},
      }),
      shift('shift[50].bake.shift-back', 'Shift traffic back (legacy)', 33, 41, [50, 50], [100, 0], {compensationFor: 'shift[50].bake'}),
      step('shift[50].bake.wait-back', 'Wait out the TTL after shifting back', 'wait', 'succeeded', 41, 46, {compensationFor: 'shift[50].bake'}),
      step('shift[100].weights', 'Set weights legacy 0 / kubernetes 100', 'dns-weights', 'pending'),
    ],
    {
      status: 'failed',
      failure: {stepId: 'shift[50].bake', message: 'Kubernetes 5xx ratio: 1 of 1 sample(s) outside ≤ 0.001', code: 'GATE_FAILED', compensated: true},
    },
  )
}

/** Ctrl-C while the 50% shift was being made: the step is in doubt; the weights were read back. */
export function interruptedRun(): RunState {
  const g10 = group('shift[10]', 'Shift 10% to Kubernetes', 10, 0)
  const g50 = group('shift[50]', 'Shift 50% to Kubernetes', 50, 1)
  const s = run([
    step('legacy-health', 'Preflight — legacy stack healthy', 'http-check', 'succeeded', 0, 1),
    shift('shift[10].weights', 'Set weights legacy 90 / kubernetes 10', 1, 9, [100, 0], [90, 10], {group: g10}),
    step('shift[10].bake', 'Bake 5s while the gates watch', 'gates', 'succeeded', 9, 14, {group: g10}),
    step('shift[50].weights', 'Set weights legacy 50 / kubernetes 50', 'dns-weights', 'running', 14, undefined, {
      group: g50,
      inputs: {legacy: 50, kubernetes: 50},
      notes: {before: {legacy: 90, kubernetes: 10}, changeId: 'C-50'},
    }),
    step('shift[50].bake', 'Bake 5s while the gates watch', 'gates', 'pending', undefined, undefined, {group: g50}),
  ])
  const endedAt = at(17)
  return {
    ...s,
    status: 'interrupted',
    endedAt,
    updatedAt: endedAt,
    durationMs: undefined,
    stopped: {reason: 'received SIGINT'},
    world: [{kind: 'dns-weights', at: at(17.5), summary: 'traffic now: legacy 50 / kubernetes 50', data: {record: 'clpr.tv.', weights: {legacy: 50, kubernetes: 50}}}],
  }
}
