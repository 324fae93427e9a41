/** Flags shared by commands, defined once so that they read the same everywhere. */
import {Flags} from '@oclif/core'

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

export const paramFlag = Flags.string({
  char: 'p',
  summary: 'A runbook parameter, as key=value (repeatable).',
  multiple: true,
})

export const savePlanFlag = Flags.string({summary: 'With --dry-run: write the plan as JSON to this file.', dependsOn: ['dry-run']})
export const planFlag = Flags.string({
  summary: 'Apply a plan saved with --dry-run --save-plan; refused if the runbook, parameters or live state changed since.',
  exclusive: ['dry-run'],
})

/** Everything a command that runs a runbook takes. */
export const runFlags = {
  env: envFlag,
  config: configFlag,
  'dry-run': dryRunFlag,
  output: outputFlag,
  'save-plan': savePlanFlag,
  plan: planFlag,
  yes: yesFlag,
  'no-input': noInputFlag,
  'state-dir': stateDirFlag,
}
