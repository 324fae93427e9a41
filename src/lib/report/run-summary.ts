/**
 * How a run ended, in a few lines for people (after a run, in `runs show`) and as the --json
 * result of the commands that run or show runbooks.
 */
import type {RunState} from '../engine/state.js'
import {formatDuration} from '../util/duration.js'
import {continueHint} from './run-report.js'

export interface ReportFiles {
  markdown: string
  junit: string
  json: string
}

export function summaryLines(s: RunState, reports?: ReportFiles): string[] {
  const lines: string[] = []
  const dur = s.durationMs !== undefined ? ` in ${formatDuration(s.durationMs)}` : ''
  const icon = s.status === 'succeeded' ? '✔' : s.status === 'interrupted' ? '⏸' : '✖'
  lines.push(`${icon} ${s.runbook.name}${s.environment ? ` on ${s.environment}` : ''}: ${s.status}${dur} (run ${s.id})`)
  if (s.status === 'interrupted' && s.stopped) lines.push(`  stopped: ${s.stopped.reason}`)
  if (s.failure) lines.push(`  ${s.failure.stepId ? `${s.failure.stepId}: ` : ''}${s.failure.message}`)
  if (s.failure?.compensated) {
    const ran = s.steps.filter((x) => x.compensationFor === s.failure?.stepId)
    lines.push(`  ${s.failure.stepId} failed; its compensating steps ran: ${ran.map((x) => `${x.title} (${x.status})`).join(', ')}`)
  }
  if (s.deadline && s.durationMs !== undefined) {
    const over = s.deadline.exceededAt ? ` — ⚠ OVER the budget by ${formatDuration(s.durationMs - s.deadline.budgetMs)}` : ''
    const what = s.runbook.recovery && s.status === 'succeeded' ? 'time to recovery' : 'took'
    lines.push(`  ${what}: ${formatDuration(s.durationMs)} of the ${formatDuration(s.deadline.budgetMs)} budget${over}`)
  }
  for (const st of s.steps.filter((x) => x.warning)) lines.push(`  ⚠ skipped: ${st.title} — ${st.summary ?? ''}`)
  for (const w of s.world ?? []) lines.push(`  ${w.error ? `⚠ ${w.summary}: ${w.error}` : w.summary}`)
  const inDoubt = s.steps.filter((x) => x.status === 'running').map((x) => x.id)
  if (s.status === 'interrupted' && inDoubt.length) lines.push(`  interrupted during ${inDoubt.join(', ')}; a resume checks the world before going on`)
  for (const h of continueHint(s)) lines.push(`  ${h}`)
  if (reports) lines.push(`  Report: ${reports.markdown}  JUnit: ${reports.junit}`)
  return lines
}

export function runSummary(s: RunState, reports?: ReportFiles): Record<string, unknown> {
  return {
    id: s.id,
    runbook: s.runbook.name,
    environment: s.environment,
    status: s.status,
    createdAt: s.createdAt,
    endedAt: s.endedAt,
    durationMs: s.durationMs,
    ...(s.runbook.recovery && s.status === 'succeeded' ? {timeToRecoveryMs: s.durationMs} : {}),
    deadline: s.deadline,
    failure: s.failure,
    stopped: s.stopped,
    world: s.world,
    steps: s.steps.map((x) => ({
      id: x.id,
      title: x.title,
      kind: x.kind,
      status: x.status,
      durationMs: x.durationMs,
      summary: x.summary,
      error: x.error,
      outputs: x.outputs,
      reconciled: x.reconciled,
    })),
    reports,
    next: continueHint(s),
  }
}
