/**
 * Reports of a run: Markdown for people (and incident docs), JUnit XML for CI dashboards (one
 * test case per step), JSON for machines. Written into the run's directory when a run ends.
 */
import {join} from 'node:path'
import {atomicWriteFile, type RunState, type StepRecord} from '../engine/state.js'
import {formatDuration} from '../util/duration.js'
import {timelineMarkdown} from './timeline.js'
import {changesWorld, type Change} from '../steps/types.js'

const ICON: Record<string, string> = {succeeded: '✅', failed: '❌', skipped: '⏭️', running: '⏳', pending: '·', interrupted: '⏸️'}

export function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, '<br>')
}

export function changeLine(c: Change): string {
  const arrow = c.before !== undefined || c.after !== undefined ? ` ${fmt(c.before)} → ${fmt(c.after)}` : ''
  return `${c.action} ${c.target}${arrow}${c.detail ? ` (${c.detail})` : ''}`
}

function fmt(v: unknown): string {
  if (v === undefined) return '∅'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

export function continueHint(state: RunState): string[] {
  const lines: string[] = []
  if (state.status === 'interrupted' || (state.status === 'failed' && !state.failure?.compensated)) {
    lines.push(`Continue: clipper-ops runs resume ${state.id}${state.protected ? ' --yes' : ''}`)
  }
  if (state.status !== 'succeeded' && state.undo) lines.push(`Undo: ${state.undo}`)
  return lines
}

export function runMarkdown(s: RunState): string {
  const out: string[] = []
  out.push(`# ${s.runbook.name}: ${s.status.toUpperCase()}`, '')
  out.push(`| | |`, `|---|---|`)
  out.push(`| Run | \`${s.id}\` |`)
  if (s.environment) out.push(`| Environment | ${s.environment}${s.protected ? ' (protected)' : ''} |`)
  out.push(`| Started | ${s.createdAt} by ${s.who.user}@${s.who.host}${s.who.aws ? ` (${s.who.aws})` : ''} |`)
  if (s.endedAt) out.push(`| Ended | ${s.endedAt} |`)
  if (s.durationMs !== undefined) out.push(`| Duration | ${formatDuration(s.durationMs)} |`)
  if (s.deadline) {
    const over = s.deadline.exceededAt ? ` — **exceeded** at ${s.deadline.exceededAt}` : ' — met'
    out.push(`| Deadline | ${formatDuration(s.deadline.budgetMs)} (until ${s.deadline.at})${s.endedAt ? over : ''} |`)
    if (s.runbook.recovery && s.status === 'succeeded' && s.durationMs !== undefined) out.push(`| Time to recovery | ${formatDuration(s.durationMs)} |`)
  }
  for (const w of s.world ?? []) out.push(`| World at the end | ${mdEscape(w.error ? `⚠ ${w.summary}: ${w.error}` : w.summary)} (${w.at}) |`)
  if (s.attempts.length > 1) out.push(`| Attempts | ${s.attempts.length} (${s.attempts.map((a) => a.outcome ?? 'running').join(', ')}) |`)
  if (Object.keys(s.params).length)
    out.push(
      `| Parameters | ${mdEscape(
        Object.entries(s.params)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(', '),
      )} |`,
    )
  out.push('')
  if (s.failure) {
    out.push(`**Failed${s.failure.stepId ? ` at \`${s.failure.stepId}\`` : ''}:** ${mdEscape(s.failure.message)}`, '')
  }
  const hints = continueHint(s)
  if (hints.length) out.push(...hints.map((h) => `- ${h.replace(/: (.*)$/, ': `$1`')}`), '')
  out.push('## Steps', '', '| | Step | Kind | Duration | Result |', '|---|---|---|---|---|')
  for (const st of s.steps) {
    const result = st.error ? `${st.error.message}` : (st.summary ?? '')
    const rec = st.reconciled ? ` (after interruption: ${st.reconciled})` : ''
    out.push(
      `| ${ICON[st.status] ?? st.status} | ${mdEscape(st.compensationFor ? `↩ ${st.title}` : st.title)} | ${st.kind} | ${st.durationMs !== undefined ? formatDuration(st.durationMs) : ''} | ${mdEscape(result + rec)} |`,
    )
  }
  out.push('', ...timelineMarkdown(s))
  // What changed the world, including a change an interrupted attempt made and a resume found in place.
  const changed = s.steps.filter((st) => st.changes?.some(changesWorld))
  out.push('', '## Changes made', '')
  if (!changed.length) out.push('None: this run changed nothing.')
  for (const st of changed) {
    out.push(`- **${st.title}**${st.reconciled === 'done' ? ' (made before an interruption; found in place on resume)' : ''}`)
    for (const c of st.changes!.filter(changesWorld)) out.push(`  - ${mdEscape(changeLine(c))}`)
  }
  out.push('')
  return out.join('\n')
}

export function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;'})[c]!)
}

export function runJunit(s: RunState): string {
  const cases = s.steps.map((st: StepRecord) => {
    const time = ((st.durationMs ?? 0) / 1000).toFixed(3)
    const name = xml(st.title)
    const cls = xml(`${s.runbook.name}${st.group ? `.${st.group.id}` : ''}`)
    let body = ''
    if (st.status === 'failed')
      body = `<failure message="${xml(st.error?.message ?? 'failed')}" type="${xml(st.error?.code ?? 'FAILED')}">${xml(st.error?.message ?? '')}</failure>`
    else if (st.status === 'skipped') body = `<skipped message="${xml(st.summary ?? 'skipped')}"/>`
    else if (st.status === 'pending' || st.status === 'running') body = `<skipped message="not finished (run ${s.status})"/>`
    else if (st.summary) body = `<system-out>${xml(st.summary)}</system-out>`
    return `    <testcase classname="${cls}" name="${name}" time="${time}">${body}</testcase>`
  })
  const failures = s.steps.filter((x) => x.status === 'failed').length
  const skipped = s.steps.filter((x) => x.status !== 'failed' && x.status !== 'succeeded').length
  const time = ((s.durationMs ?? 0) / 1000).toFixed(3)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="clipper-ops" tests="${s.steps.length}" failures="${failures}" time="${time}">`,
    `  <testsuite name="${xml(`${s.runbook.name}${s.environment ? ` (${s.environment})` : ''}`)}" id="${xml(s.id)}" tests="${s.steps.length}" failures="${failures}" skipped="${skipped}" time="${time}" timestamp="${s.createdAt}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}

export function writeRunReports(dir: string, state: RunState): {markdown: string; junit: string; json: string} {
  const files = {markdown: join(dir, 'report.md'), junit: join(dir, 'junit.xml'), json: join(dir, 'state.json')}
  atomicWriteFile(files.markdown, runMarkdown(state))
  atomicWriteFile(files.junit, runJunit(state))
  return files
}
