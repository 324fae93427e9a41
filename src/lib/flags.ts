/** Flags shared by commands, defined once so that they read the same everywhere, and checked where they are declared. */
import {Flags} from '@oclif/core'
import {UsageError} from './errors.js'
import {parseDuration} from './util/duration.js'

export const stateDirFlag = Flags.string({
  summary: 'Where run state, journals, locks and reports live.',
  description: 'Defaults to .clipper-ops/ in the current directory.',
  env: 'CLIPPER_OPS_STATE_DIR',
  helpGroup: 'GLOBAL',
})

export const configFlag = Flags.string({
  char: 'c',
  summary: 'Path of clipper-ops.yaml.',
  description: 'Otherwise CLIPPER_OPS_CONFIG, then clipper-ops.yaml in the current directory or a parent.',
  env: 'CLIPPER_OPS_CONFIG',
  helpGroup: 'GLOBAL',
})

export const envFlag = Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to act on.', env: 'CLIPPER_OPS_ENV'})

export const yesFlag = Flags.boolean({
  char: 'y',
  summary: 'Answer yes to confirmations and approvals (for CI).',
  description: 'Protected environments and approval steps then go ahead without asking; the answer is recorded as given by --yes.',
})

export const noInputFlag = Flags.boolean({
  summary: 'Never prompt; fail where a question would be asked.',
  description: 'Implied when stdin or stderr is not a terminal, or CI=true.',
})

export const dryRunFlag = Flags.boolean({
  summary: 'Show exactly what would change, step by step, and change nothing.',
  description: 'Reads live state with read-only calls only. Combine with --output markdown for a change review, --save-plan to apply the reviewed plan later.',
})

export const outputFlag = Flags.option({
  char: 'o',
  summary: 'Output format: table, markdown or json for a dry run; plain (line per event) or json (JSON-lines event stream) for a run.',
  options: ['table', 'markdown', 'json', 'plain'] as const,
})()

export const paramFlag = Flags.custom<{key: string; value: string}>({
  char: 'p',
  summary: 'A runbook parameter, as key=value (repeatable).',
  parse: async (v) => {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new UsageError(`--param ${v}: expected key=value, e.g. --param bake=5m.`, {code: 'BAD_PARAM'})
    return {key: v.slice(0, eq), value: v.slice(eq + 1)}
  },
})

/** Percentages of traffic, increasing, each a whole number from 1 to 100 (plain decimals only: 0x10 is not 16). */
export function parseSteps(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim())
  const bad = parts.find((p) => !/^\d{1,3}$/.test(p) || Number(p) < 1 || Number(p) > 100)
  if (bad !== undefined) throw new UsageError(`--steps ${raw}: "${bad}" is not a percentage from 1 to 100; expected e.g. 10,50,100.`, {code: 'BAD_FLAG'})
  const steps = parts.map(Number)
  if (steps.some((v, i) => i > 0 && v <= steps[i - 1]!)) throw new UsageError(`--steps ${raw}: expected percentages in increasing order, e.g. 10,50,100.`, {code: 'BAD_FLAG'})
  return steps
}

export const stepsFlag = Flags.custom<number[]>({
  summary: 'Percentages of traffic for Kubernetes, in increasing order, e.g. 10,50,100 (default: rollout.steps).',
  parse: async (raw) => parseSteps(raw),
})

/** A duration such as 30s, 5m or 1h. */
export const durationFlag = Flags.custom<string>({
  parse: async (raw, _ctx, flag) => {
    if (parseDuration(raw) === undefined) throw new UsageError(`--${flag.name} ${raw}: expected a duration such as 30s, 5m or 1h.`, {code: 'BAD_FLAG'})
    return raw
  },
})

export const savePlanFlag = Flags.string({summary: 'With --dry-run: write the plan as JSON to this file.', dependsOn: ['dry-run']})
export const planFlag = Flags.string({
  summary: 'Apply a plan saved with --dry-run --save-plan; refused if the runbook, parameters or live state changed since.',
  exclusive: ['dry-run'],
})

export const fastFlag = Flags.boolean({
  summary: "Take the runbook's faster path (budget.fastPath): what it declares to give up to fit the deadline.",
  description: 'Offered when the planned worst case does not fit the deadline; the parameters it sets are in the runbook.',
})

export const overBudgetFlag = Flags.boolean({
  summary: 'Start even though the planned worst case does not fit the deadline.',
  description: 'Without it, a runbook with a budget section whose worst case cannot fit is refused before any change.',
})

/** Everything a command that runs a runbook takes. */
export const runFlags = {
  env: envFlag,
  config: configFlag,
  'dry-run': dryRunFlag,
  output: outputFlag,
  'save-plan': savePlanFlag,
  plan: planFlag,
  fast: fastFlag,
  'over-budget': overBudgetFlag,
  yes: yesFlag,
  'no-input': noInputFlag,
  'state-dir': stateDirFlag,
}
