/**
 * Renderings of a verify: a table for people, JUnit XML for CI dashboards (a failed check is a
 * failure; a warning passes, with its reason as system-out), and the JSON --json prints.
 */
import type {CheckResult, Phase} from '../verify/check.js'
import {formatDuration} from '../util/duration.js'
import {xml} from './run-report.js'

const MARK = {pass: '✔', warn: '⚠', fail: '✖'} as const

export function verifyTable(results: CheckResult[], o: {env: string; phase: Phase; width?: number}): string {
  const width = o.width ?? 120
  const idW = Math.max(2, ...results.map((r) => r.id.length))
  const lines = [`verify --phase ${o.phase} on ${o.env}: ${results.length} check(s)`, '']
  for (const r of results) {
    const head = `${MARK[r.status]} ${r.id.padEnd(idW)}  ${r.status.toUpperCase().padEnd(4)}  `
    const room = Math.max(30, width - head.length)
    const detail = r.detail.length > room ? `${r.detail.slice(0, room - 1)}…` : r.detail
    lines.push(`${head}${detail}`)
  }
  return lines.join('\n')
}

export function verifyJunit(results: CheckResult[], o: {env: string; phase: Phase; at: string}): string {
  const failures = results.filter((r) => r.status === 'fail').length
  const time = (ms: number) => (ms / 1000).toFixed(3)
  const total = results.reduce((a, r) => a + r.durationMs, 0)
  const cases = results.map((r) => {
    const body =
      r.status === 'fail'
        ? `<failure message="${xml(r.detail)}" type="CHECK_FAILED">${xml(r.detail)}</failure>`
        : `<system-out>${xml(`${r.status === 'warn' ? 'WARNING: ' : ''}${r.detail}`)}</system-out>`
    return `    <testcase classname="verify.${o.phase}" name="${xml(`${r.id}: ${r.title}`)}" time="${time(r.durationMs)}">${body}</testcase>`
  })
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="clipper-ops verify" tests="${results.length}" failures="${failures}" time="${time(total)}">`,
    `  <testsuite name="${xml(`verify ${o.phase} (${o.env})`)}" tests="${results.length}" failures="${failures}" skipped="0" time="${time(total)}" timestamp="${o.at}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}

export function verifySummary(results: CheckResult[]): string {
  const n = (s: CheckResult['status']) => results.filter((r) => r.status === s).length
  const took = formatDuration(Math.max(0, ...results.map((r) => r.durationMs)))
  return `${n('pass')} passed, ${n('warn')} warning(s), ${n('fail')} failed (slowest ${took})`
}
