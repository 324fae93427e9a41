/**
 * The DR drill's result, read from the run's state (what the steps measured and noted), and
 * its three reports: report.json, report.md (the phases as a Mermaid gantt, which GitHub renders)
 * and junit.xml. The verdict is the run's: validation passed and RTO and RPO within target.
 */
import type {RunState, StepRecord} from '../engine/state.js'
import {formatDuration} from '../util/duration.js'
import {xml} from './run-report.js'

export interface DrillPhase {
  name: string
  start: string
  end: string
  ms: number
}

export interface DrillResult {
  kind: 'clipper-ops-dr-drill'
  environment: string
  runId: string
  who: string
  startedAt: string
  endedAt?: string
  verdict: 'pass' | 'fail'
  /** service: a restore in the environment's region; region: from the cross-region copy in the secondary region. */
  scope: 'service' | 'region'
  region?: string
  reason?: string
  from?: unknown
  target?: string
  restoreTime?: string
  settings?: unknown
  request?: unknown
  newestRow?: string
  rto?: {ms: number; targetMs: number; met: boolean}
  rpo?: {ms: number; targetMs: number; met: boolean}
  checks: {name: string; value: number | null; ok: boolean; detail: string}[]
  phases: DrillPhase[]
  cleanup: {instance?: string; result: string}
  /** A restore made through AWS Backup, and the verdict recorded on it (PutRestoreValidationResult). */
  restoreJob?: {id: string; validationReported: 'SUCCESSFUL' | 'FAILED'}
  /** Where the result was added to the drill history. */
  history?: string
}

const step = (s: RunState, id: string): StepRecord | undefined => s.steps.find((x) => x.id === id)
const measured = (r?: StepRecord) => (r?.outputs ?? (r?.notes?.measured as Record<string, unknown> | undefined) ?? {}) as Record<string, any>

function phase(name: string, start: unknown, end: unknown): DrillPhase | undefined {
  if (typeof start !== 'string' || typeof end !== 'string') return undefined
  return {name, start, end, ms: Math.max(0, Date.parse(end) - Date.parse(start))}
}

export function drillResult(s: RunState, cleanup: DrillResult['cleanup']): DrillResult {
  const restore = step(s, 'restore')
  const validate = step(s, 'validate')
  const r = measured(restore)
  const v = measured(validate)
  const del = [step(s, 'cleanup'), ...s.steps.filter((x) => x.kind === 'rds-delete')].find((x) => x?.status === 'succeeded')
  const phases = [
    phase('request accepted', s.createdAt, r.acceptedAt),
    phase('available', r.acceptedAt, r.availableAt),
    phase('connectable', r.availableAt, v.connectedAt),
    phase('validated', v.connectedAt, v.validatedAt),
    phase('deleted', del?.startedAt, del?.outputs?.deletedAt),
  ].filter((p): p is DrillPhase => Boolean(p))
  return {
    kind: 'clipper-ops-dr-drill',
    environment: s.environment ?? '',
    runId: s.id,
    who: [s.who?.user && `${s.who.user}@${s.who.host}`, s.who?.aws].filter(Boolean).join(' as ') || 'unknown',
    startedAt: s.createdAt,
    endedAt: s.endedAt,
    verdict: s.status === 'succeeded' ? 'pass' : 'fail',
    scope: s.params.from === 'region-copy' ? 'region' : 'service',
    region: r.region,
    reason: s.status === 'succeeded' ? undefined : (s.failure?.message ?? `the run ${s.status}`),
    from: {from: s.params.from, time: s.params.time || undefined, snapshot: s.params.snapshot || undefined, recoveryPoint: s.params.recoveryPoint || undefined},
    target: r.instance ?? (restore?.inputs as {target?: string} | undefined)?.target,
    restoreTime: r.restoreTime,
    settings: r.settings,
    request: r.request,
    newestRow: v.newestRow,
    rto: v.rtoMs === undefined ? undefined : {ms: v.rtoMs, targetMs: v.rtoTargetMs, met: v.rtoMet},
    rpo: v.rpoMs === undefined ? undefined : {ms: v.rpoMs, targetMs: v.rpoTargetMs, met: v.rpoMet},
    checks: v.checks ?? [],
    phases,
    cleanup,
  }
}

const fmt = (ms?: number) => (ms === undefined ? '—' : formatDuration(ms))

export function drillMarkdown(d: DrillResult): string {
  const mark = (ok?: boolean) => (ok === undefined ? '—' : ok ? '✅' : '❌')
  const lines = [
    `## DR drill on ${d.environment}${d.scope === 'region' ? ` (region-wide, in ${d.region ?? 'the secondary region'})` : ''}: ${d.verdict === 'pass' ? '✅ passed' : '❌ failed'}`,
    '',
    ...(d.reason ? [`**Why:** ${d.reason}`, ''] : []),
    '| measure | value | target | met |',
    '|---|---|---|---|',
    `| RTO (drill start → validation passed) | ${fmt(d.rto?.ms)} | ${fmt(d.rto?.targetMs)} | ${mark(d.rto?.met)} |`,
    `| RPO (drill start − newest row restored) | ${fmt(d.rpo?.ms)} | ${fmt(d.rpo?.targetMs)} | ${mark(d.rpo?.met)} |`,
    '',
    `Run \`${d.runId}\` by ${d.who}, started ${d.startedAt}. Restored ${d.restoreTime ?? '?'} to \`${d.target}\`; newest row restored: ${d.newestRow ?? 'none'}. Scratch instance: ${d.cleanup.result}.`,
    '',
  ]
  if (d.checks.length) {
    lines.push('| check | result |', '|---|---|', ...d.checks.map((c) => `| ${c.ok ? '✅' : '❌'} ${c.name} | ${c.detail.replace(/\|/g, '\\|')} |`), '')
  }
  if (d.phases.length) {
    lines.push('```mermaid', 'gantt', '  title DR drill phases', '  dateFormat x', '  axisFormat %H:%M:%S')
    for (const p of d.phases) lines.push(`  ${p.name} (${fmt(p.ms)}) : ${Date.parse(p.start)}, ${Date.parse(p.end)}`)
    lines.push('```', '')
  }
  if (d.settings)
    lines.push(
      '<details><summary>Restore settings and request</summary>',
      '',
      '```json',
      JSON.stringify({settings: d.settings, request: d.request}, null, 2),
      '```',
      '</details>',
      '',
    )
  return lines.join('\n')
}

export function drillJunit(d: DrillResult): string {
  const cases: {name: string; failure?: string; ms?: number}[] = [
    {name: 'restore and validate', failure: d.verdict === 'fail' && !d.rto && !d.rpo ? d.reason : undefined, ms: d.rto?.ms},
    ...d.checks.map((c) => ({name: `check ${c.name}`, failure: c.ok ? undefined : c.detail})),
    {name: 'RTO within target', failure: !d.rto ? 'not measured' : d.rto.met ? undefined : `RTO ${fmt(d.rto.ms)} > target ${fmt(d.rto.targetMs)}`, ms: d.rto?.ms},
    {name: 'RPO within target', failure: !d.rpo ? 'not measured' : d.rpo.met ? undefined : `RPO ${fmt(d.rpo.ms)} > target ${fmt(d.rpo.targetMs)}`},
  ]
  const failures = cases.filter((c) => c.failure).length
  const body = cases.map(
    (c) =>
      `    <testcase classname="dr.drill" name="${xml(c.name)}" time="${((c.ms ?? 0) / 1000).toFixed(3)}">${c.failure ? `<failure message="${xml(c.failure)}">${xml(d.reason ?? c.failure)}</failure>` : ''}</testcase>`,
  )
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites>',
    `  <testsuite name="${xml(`dr drill (${d.environment})`)}" tests="${cases.length}" failures="${failures}" timestamp="${d.startedAt}">`,
    ...body,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}
