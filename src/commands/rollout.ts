import {Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../lib/errors.js'
import {durationFlag, runFlags, stepsFlag} from '../lib/flags.js'
import {RunbookCommand} from '../lib/runbook-command.js'

export default class Rollout extends RunbookCommand<typeof Rollout> {
  static override summary = 'Shift traffic from Docker Compose to Kubernetes in steps (10% → 50% → 100%), with gates.'
  static override description = `Runs the built-in cutover runbook. Preflight: both stacks healthy, deployments available, the weighted DNS pair consistent with the config and safe, TTL within bounds, no change of ours pending, the rollback path up. Then for each step: an optional approval, both weights in one Route 53 change batch (guarded against a concurrent edit), INSYNC, the TTL, and a bake while the gates (rollout.gates) watch. A gate that fails or has no data stops the rollout, shifts traffic back (all to legacy by default) and exits 1 saying what failed and what it did.

One operator per environment: the lock lives in Route 53 (a TXT record beside the name) unless dns.lock is local.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'Review the whole cutover as a change review (Markdown for a pull request)', command: '<%= config.bin %> rollout --env production --dry-run --output markdown'},
    {description: 'Roll out with the configured steps and gates, asking before each shift', command: '<%= config.bin %> rollout --env production --approve'},
    {description: 'In CI, two steps with a short bake', command: '<%= config.bin %> rollout --env staging --steps 25,100 --bake 2m --yes --no-input'},
    {description: 'Rehearse in the sandbox', command: '<%= config.bin %> sandbox up && <%= config.bin %> rollout --env sandbox'},
  ]

  static override flags = {
    ...runFlags,
    env: Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to act on (default: defaultEnvironment).', env: 'CLIPPER_OPS_ENV'}),
    steps: stepsFlag(),
    bake: durationFlag({summary: 'How long the gates watch each step, e.g. 10m (default: rollout.bake).'}),
    approve: Flags.boolean({summary: 'Ask before each shift (also on when rollout.approval is true).'}),
    fallback: Flags.option({summary: 'Where traffic goes when a step fails.', options: ['legacy', 'previous'] as const, default: 'legacy'})(),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    return this.runRunbook('cutover', {approve: f.approve, fallback: f.fallback, ...(f.steps && {steps: f.steps}), ...(f.bake && {bake: f.bake})})
  }
}
