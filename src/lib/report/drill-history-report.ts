/** The drill history as a table, and as Markdown with a Mermaid chart of RTO and RPO over time. */
import {formatDuration} from '../util/duration.js'
import type {DrillResult} from './drill-report.js'

const fmt = (m?: {ms: number; targetMs: number; met: boolean}) => (m ? `${formatDuration(m.ms)}/${formatDuration(m.targetMs)}${m.met ? '' : ' MISSED'}` : '—')

function rows(drills: DrillResult[]): string[][] {
  return [...drills]
    .reverse()
    .map((d) => [d.startedAt.replace('T', ' ').slice(0, 19), d.verdict === 'pass' ? 'pass' : 'FAIL', fmt(d.rto), fmt(d.rpo), d.restoreTime ?? '—', d.runId])
}

export function historyTable(env: string, drills: DrillResult[], where: string): string {
  if (drills.length === 0) return `No drill recorded for ${env} in ${where}. Run one: clipper-ops dr drill --env ${env}`
  const head = ['started (UTC)', 'verdict', 'RTO/target', 'RPO/target', 'restored to', 'run']
  const all = [head, ...rows(drills)]
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  const passed = drills.filter((d) => d.verdict === 'pass').length
  return [
    `Drills of ${env} (${where}), newest first:`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows(drills).map(line),
    '',
    `${passed} of ${drills.length} passed.`,
  ].join('\n')
}

/**
 * The chart's x axis is a list of categories: two drills with the same label would be drawn as
 * one point, so the labels (month-day hour:minute) gain seconds, then a count, until they differ.
 */
function labels(drills: DrillResult[]): string[] {
  for (const end of [16, 19]) {
    const out = drills.map((d) => d.startedAt.slice(5, end).replace('T', ' '))
    if (new Set(out).size === out.length) return out
  }
  return drills.map((d, i) => `${d.startedAt.slice(5, 19).replace('T', ' ')} (${i + 1})`)
}

export function historyMarkdown(env: string, drills: DrillResult[]): string {
  const lines = [`## DR drills of ${env}`, '']
  if (drills.length === 0) return [...lines, 'No drill recorded yet.', ''].join('\n')
  const secs = (m?: {ms: number}) => (m ? (m.ms / 1000).toFixed(1) : '0')
  const last = drills.at(-1)!
  lines.push(
    '```mermaid',
    'xychart-beta',
    `  title "RTO and RPO of ${env} (seconds; targets ${formatDuration(last.rto?.targetMs ?? 0)} and ${formatDuration(last.rpo?.targetMs ?? 0)})"`,
    `  x-axis [${labels(drills)
      .map((l) => `"${l}"`)
      .join(', ')}]`,
    '  y-axis "seconds"',
    `  line [${drills.map((d) => secs(d.rto)).join(', ')}]`,
    `  line [${drills.map((d) => secs(d.rpo)).join(', ')}]`,
    '```',
    '',
    '| started (UTC) | verdict | RTO / target | RPO / target | restored to | run |',
    '|---|---|---|---|---|---|',
    ...rows(drills).map((r) => `| ${r.join(' | ')} |`),
    '',
  )
  return lines.join('\n')
}
