/**
 * Renderings of a dry-run plan: a table for a terminal, Markdown to paste into a pull request
 * as a change review, and JSON for machines (the plan object itself).
 */
import type {Plan, PlannedStep} from '../engine/planner.js'
import {formatDuration} from '../util/duration.js'
import {changeLine, mdEscape} from './run-report.js'

function runsLabel(s: PlannedStep): string {
  return s.runs === true ? '' : s.runs === false ? ' [skipped]' : ' [conditional]'
}

export function planTable(plan: Plan): string {
  const rows: string[][] = [['#', 'Step', 'Kind', 'Would do', 'Est.']]
  const add = (list: PlannedStep[], prefix: string) =>
    list.forEach((s, i) => {
      const changes = s.changes.filter((c) => c.action !== 'none')
      const what = changes.length ? changes.map(changeLine).join('\n') : s.summary || 'no change'
      rows.push([`${prefix}${i + 1}`, `${s.title}${runsLabel(s)}`, s.kind, what, s.estimateMs ? formatDuration(s.estimateMs) : ''])
    })
  add(plan.steps, '')
  const widths = rows[0]!.map((_, c) => Math.min(c === 3 ? 80 : c === 1 ? 56 : 40, Math.max(...rows.map((r) => Math.max(...r[c]!.split('\n').map((l) => l.length))))))
  const lines: string[] = []
  lines.push(`Plan: ${plan.runbook.name}${plan.environment ? ` on ${plan.environment}` : ''} — dry run, nothing was changed`)
  lines.push('')
  for (const [ri, r] of rows.entries()) {
    const cells = r.map((cell) => cell.split('\n'))
    const height = Math.max(...cells.map((c) => c.length))
    for (let h = 0; h < height; h++)
      lines.push(
        cells
          .map((c, ci) => (c[h] ?? '').slice(0, widths[ci]).padEnd(widths[ci]!))
          .join('  ')
          .trimEnd(),
      )
    if (ri === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const f of plan.onFailure) {
    lines.push('', `If ${failedWhich(f.for)} fails:`)
    for (const s of f.steps) {
      const changes = s.changes.filter((c) => c.action !== 'none')
      lines.push(`  ↩ ${s.title}: ${changes.length ? changes.map(changeLine).join('; ') : s.summary}`)
    }
  }
  lines.push('', timeLine(plan))
  const mutating = plan.steps.filter((s) => s.mutates && s.runs !== false && s.changes.some((c) => c.action !== 'none')).length
  lines.push(`${mutating} step(s) would change something. Fingerprint of the live state read: ${plan.fingerprint.slice(0, 16)}`)
  return lines.join('\n')
}

function failedWhich(ids: string[], q = ''): string {
  const names = ids.map((i) => `${q}${i}${q}`)
  return names.length === 1 ? names[0]! : names.length === 2 ? `${names[0]} or ${names[1]}` : `any of ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}

function timeLine(plan: Plan): string {
  const parts = [`Estimated time: ${formatDuration(plan.estimateMs)} (worst case ${formatDuration(plan.worstCaseMs)}`]
  if (plan.onFailure.length) parts.push(`; with the slowest rollback ${formatDuration(plan.worstCaseWithRollbackMs)}`)
  parts.push(')')
  if (plan.deadlineMs !== undefined) {
    const fits = plan.worstCaseMs <= plan.deadlineMs
    parts.push(`. Deadline ${formatDuration(plan.deadlineMs)}: the worst case ${fits ? 'fits' : 'DOES NOT FIT'}`)
  }
  return `${parts.join('')}.`
}

export function planMarkdown(plan: Plan): string {
  const out: string[] = []
  out.push(`## clipper-ops plan: \`${plan.runbook.name}\`${plan.environment ? ` on \`${plan.environment}\`` : ''}`, '')
  if (plan.runbook.description) out.push(`> ${plan.runbook.description.trim().replace(/\n/g, '\n> ')}`, '')
  out.push(`Dry run made ${plan.createdAt}; nothing was changed.`, '')
  if (Object.keys(plan.params).length)
    out.push(
      `Parameters: ${Object.entries(plan.params)
        .map(([k, v]) => `\`${k}=${JSON.stringify(v)}\``)
        .join(', ')}`,
      '',
    )
  out.push('| # | Step | Kind | Change | Est. |', '|---|---|---|---|---|')
  plan.steps.forEach((s, i) => {
    const changes = s.changes.filter((c) => c.action !== 'none')
    const what = changes.length ? changes.map((c) => mdEscape(changeLine(c))).join('<br>') : mdEscape(s.summary || 'no change')
    out.push(`| ${i + 1} | ${mdEscape(s.title + runsLabel(s))} | \`${s.kind}\` | ${what} | ${s.estimateMs ? formatDuration(s.estimateMs) : ''} |`)
  })
  const reviews = plan.steps.filter((s) => s.review)
  if (reviews.length) {
    out.push('', '### Details', '')
    for (const s of reviews) out.push(`#### ${s.title}`, '', s.review!, '')
  }
  if (plan.onFailure.length) {
    out.push('', '### Rollback plan', '')
    for (const f of plan.onFailure) {
      out.push(`If ${failedWhich(f.for, '`')} fails:`, '')
      for (const s of f.steps) {
        const changes = s.changes.filter((c) => c.action !== 'none')
        out.push(`- ${mdEscape(s.title)}: ${changes.length ? changes.map((c) => mdEscape(changeLine(c))).join('; ') : mdEscape(s.summary)}`)
        if (s.review) out.push('', s.review.replace(/^/gm, '  '), '')
      }
      out.push('')
    }
  }
  out.push('', '### Time', '', timeLine(plan), '')
  out.push(`<sub>Plan fingerprint \`${plan.fingerprint}\` (runbook sha256 \`${plan.runbook.sha256.slice(0, 12)}\`)</sub>`, '')
  return out.join('\n')
}
