/** The dry run's renderings: a table that fits the terminal, and a Markdown review that folds long change batches. */
import {describe, expect, test} from 'vitest'
import type {Plan, PlannedStep} from '../../src/lib/engine/planner.js'
import {foldCode, planMarkdown, planTable, wrapCell} from '../../src/lib/report/plan-report.js'

const batch = JSON.stringify({Changes: Array.from({length: 6}, (_, i) => ({Action: i % 2 ? 'CREATE' : 'DELETE', Weight: i}))}, null, 2)
const review = `| record | before | after |\n|---|---|---|\n| compose | 100 | 90 |\n\nThe exact change batch (each DELETE must match):\n\n\`\`\`json\n${batch}\n\`\`\``

function step(id: string, title: string, extra: Partial<PlannedStep> = {}): PlannedStep {
  return {id, title, kind: 'dns-weights', runs: true, mutates: true, summary: '', changes: [], estimateMs: 1000, worstCaseMs: 2000, ...extra}
}

const plan: Plan = {
  schema: 1,
  kind: 'clipper-ops-plan',
  runbook: {name: 'cutover', file: 'cutover.yaml', sha256: 'ab'.repeat(32)},
  environment: 'sandbox',
  params: {steps: [10, 100]},
  createdAt: '2026-12-02T00:00:00.000Z',
  steps: [
    step('records', 'Preflight — DNS records consistent, TTL within bounds, nothing pending, and a title long enough to wrap', {
      kind: 'dns-check',
      changes: [{action: 'check', target: 'clpr.tv. A'}],
    }),
    step('shift[10].weights', 'Set weights legacy 90 / kubernetes 10', {
      changes: [{action: 'update', target: 'clpr.tv. A [compose] weight', before: 100, after: 90}],
      review,
    }),
  ],
  onFailure: [
    {
      for: ['shift[10].weights'],
      steps: [step('shift-back', 'Shift traffic back (legacy)', {changes: [{action: 'update', target: 'clpr.tv. A [k8s] weight', before: 10, after: 0}], review})],
    },
  ],
  estimateMs: 2000,
  worstCaseMs: 4000,
  worstCaseWithRollbackMs: 6000,
  fingerprint: 'f'.repeat(64),
}

describe('plan renderings', () => {
  test.each([60, 80, 100, 160])('the table fits %i columns, and wraps rather than cuts', (columns) => {
    const text = planTable(plan, columns)
    for (const line of text.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(columns)
    // Every word of a long title is still there, on some line.
    for (const word of ['Preflight', 'consistent,', 'enough', 'wrap']) expect(text).toContain(word)
  })

  test('wrapCell keeps words whole and cuts only a word longer than the width', () => {
    expect(wrapCell('one two three', 7)).toEqual(['one two', 'three'])
    expect(wrapCell('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij'])
    expect(wrapCell('a\nb', 10)).toEqual(['a', 'b'])
  })

  test('the Markdown review folds long change batches into <details> and keeps the before → after table visible', () => {
    const md = planMarkdown(plan)
    expect(md.match(/<details><summary>The exact change batch \(each DELETE must match\)<\/summary>/g)).toHaveLength(2)
    expect(md).toContain('| compose | 100 | 90 |')
    expect(md.indexOf('| compose | 100 | 90 |')).toBeLessThan(md.indexOf('<details>'))
    // A short block stays as it is.
    expect(foldCode('Short:\n\n```json\n{"a": 1}\n```')).toBe('Short:\n\n```json\n{"a": 1}\n```')
  })
})
