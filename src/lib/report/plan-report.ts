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

/** Word-wrap a cell to `width` columns (a word longer than that is cut into pieces). */
export function wrapCell(text: string, width: number): string[] {
  const out: string[] = []
  for (const para of text.split('\n')) {
    let line = ''
    for (const word of para.split(' ')) {
      let w = word
      while (w.length > width) {
        if (line) out.push(line)
        out.push(w.slice(0, width))
        w = w.slice(width)
        line = ''
      }
      if (!line) line = w
      else if (line.length + 1 + w.length <= width) line += ` ${w}`
      else {
        out.push(line)
        line = w
      }
    }
    out.push(line)
  }
  return out
}

/** The plan as a table that fits `columns` (the terminal's width): long cells wrap, nothing is cut. */
export function planTable(plan: Plan, columns = 120): string {
  const rows: string[][] = [['#', 'Step', 'Kind', 'Would do', 'Est.']]
  const add = (list: PlannedStep[], prefix: string) =>
    list.forEach((s, i) => {
      const changes = s.changes.filter((c) => c.action !== 'none')
      const what = changes.length ? changes.map(changeLine).join('\n') : s.summary || 'no change'
      rows.push([`${prefix}${i + 1}`, `${s.title}${runsLabel(s)}`, s.kind, what, s.estimateMs ? formatDuration(s.estimateMs) : ''])
    })
  add(plan.steps, '')
  const natural = rows[0]!.map((_, c) => Math.max(...rows.map((r) => Math.max(...r[c]!.split('\n').map((l) => l.length)))))
  // #, kind and estimate keep their width; the step and what it would do share the rest (2/5, 3/5).
  const fixed = natural[0]! + Math.min(natural[2]!, 24) + natural[4]! + 4 * 2
  const room = Math.max(30, columns - fixed)
  const stepW = Math.min(natural[1]!, Math.max(12, Math.floor((room * 2) / 5)))
  const widths = [natural[0]!, stepW, Math.min(natural[2]!, 24), Math.min(natural[3]!, Math.max(18, room - stepW)), natural[4]!]
  const lines: string[] = []
  lines.push(`Plan: ${plan.runbook.name}${plan.environment ? ` on ${plan.environment}` : ''} — dry run, nothing was changed`)
  lines.push('')
  for (const [ri, r] of rows.entries()) {
    const cells = r.map((cell, ci) => wrapCell(cell, widths[ci]!))
    const height = Math.max(...cells.map((c) => c.length))
    for (let h = 0; h < height; h++)
      lines.push(
        cells
          .map((c, ci) => (c[h] ?? '').padEnd(widths[ci]!))
          .join('  ')
          .trimEnd(),
      )
    if (ri === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const f of plan.onFailure) {
    lines.push('', ...wrapCell(`If ${failedWhich(f.for)} fails:`, columns))
    for (const s of f.steps) {
      const changes = s.changes.filter((c) => c.action !== 'none')
      const [first, ...rest] = wrapCell(`${s.title}: ${changes.length ? changes.map(changeLine).join('; ') : s.summary}`, Math.max(20, columns - 4))
      lines.push(`  ↩ ${first}`, ...rest.map((l) => `    ${l}`))
    }
  }
  lines.push('', ...wrapCell(timeLine(plan), columns))
  const mutating = plan.steps.filter((s) => s.mutates && s.runs !== false && s.changes.some((c) => c.action !== 'none')).length
  lines.push(...wrapCell(`${mutating} step(s) would change something. Fingerprint of the live state read: ${plan.fingerprint.slice(0, 16)}`, columns))
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
  // The verdict a run would start with (runbooks with a budget section): the same words.
  return `${parts.join('')}.${plan.budget && !plan.budget.fits ? `\n${plan.budget.message}` : ''}`
}

/**
 * Long code blocks of a review (a change batch's JSON) fold into <details>, so that a review with
 * several steps stays readable; the text and tables around them (before → after) stay visible.
 */
export function foldCode(review: string): string {
  return review.replace(/^([^\n]*)\n\n(```[a-z]*\n[\s\S]*?\n```)/gm, (whole, intro: string, block: string) => {
    if (block.split('\n').length <= 12) return whole
    const label = intro.trim().replace(/:$/, '') || 'details'
    return `<details><summary>${label}</summary>\n\n${block}\n\n</details>`
  })
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
    for (const s of reviews) out.push(`#### ${s.title}`, '', foldCode(s.review!), '')
  }
  if (plan.onFailure.length) {
    out.push('', '### Rollback plan', '')
    for (const f of plan.onFailure) {
      out.push(`If ${failedWhich(f.for, '`')} fails:`, '')
      for (const s of f.steps) {
        const changes = s.changes.filter((c) => c.action !== 'none')
        out.push(`- ${mdEscape(s.title)}: ${changes.length ? changes.map((c) => mdEscape(changeLine(c))).join('; ') : mdEscape(s.summary)}`)
        if (s.review) out.push('', foldCode(s.review).replace(/^/gm, '  '), '')
      }
      out.push('')
    }
  }
  out.push('', '### Time', '', timeLine(plan), '')
  out.push(`<sub>Plan fingerprint \`${plan.fingerprint}\` (runbook sha256 \`${plan.runbook.sha256.slice(0, 12)}\`)</sub>`, '')
  return out.join('\n')
}
