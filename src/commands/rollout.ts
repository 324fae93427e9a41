import {Flags} from '@oclif/core'
import {OpsCommand} from '../lib/command.js'
import {launch, launchFlags, resolveTarget} from '../lib/engine/launch.js'
import {UsageError} from '../lib/errors.js'
import {runFlags} from '../lib/flags.js'
import {parseDuration} from '../lib/util/duration.js'

export default class Rollout extends OpsCommand<typeof Rollout> {
  static override summary = 'Shift traffic from Docker Compose to Kubernetes in steps (10% → 50% → 100%), with gates.'
  static override description = `Runs the built-in cutover runbook. Preflight: both stacks healthy, deployments available, the weighted DNS pair consistent with the config and safe, TTL within bounds, no change of ours pending, the rollback path up. Then for each step: an optional approval, both weights in one Route 53 change batch (guarded against a concurrent edit), INSYNC, the TTL, and a bake while the gates (rollout.gates) watch. A gate that fails or has no data stops the rollout, shifts traffic back (all to legacy by default) and exits 1 saying what failed and what it did.

One operator per environment: the lock lives in Route 53 (a TXT record beside the name) unless dns.lock is local.

Exit codes: 0 rolled out, 1 stopped (traffic shifted back) or refused, 2 bad flags or config, 130 interrupted (continue with runs resume).`

  static override examples = [
    {description: 'Review the whole cutover as a change review (Markdown for a pull request)', command: '<%= config.bin %> rollout --env production --dry-run --output markdown'},
    {description: 'Roll out with the configured steps and gates, asking before each shift', command: '<%= config.bin %> rollout --env production --approve'},
    {description: 'In CI, two steps with a short bake', command: '<%= config.bin %> rollout --env staging --steps 25,100 --bake 2m --yes --no-input'},
    {description: 'Rehearse in the sandbox', command: '<%= config.bin %> sandbox up && <%= config.bin %> rollout --env sandbox'},
  ]

  static override flags = {
    ...runFlags,
    env: Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to act on.', env: 'CLIPPER_OPS_ENV', required: true}),
    steps: Flags.string({summary: 'Percentages of traffic for Kubernetes, in increasing order, e.g. 10,50,100 (default: rollout.steps).'}),
    bake: Flags.string({summary: 'How long the gates watch each step, e.g. 10m (default: rollout.bake).'}),
    approve: Flags.boolean({summary: 'Ask before each shift (also on when rollout.approval is true).'}),
    fallback: Flags.option({summary: 'Where traffic goes when a step fails.', options: ['legacy', 'previous'] as const, default: 'legacy'})(),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const params: Record<string, unknown> = {approve: f.approve, fallback: f.fallback}
    if (f.steps !== undefined) params.steps = parseSteps(f.steps)
    if (f.bake !== undefined) {
      if (parseDuration(f.bake) === undefined) throw new UsageError(`--bake ${f.bake}: expected a duration such as 30s, 5m or 1h.`, {code: 'BAD_FLAG'})
      params.bake = f.bake
    }
    const stateDir = this.stateDir(f['state-dir'])
    const target = await resolveTarget('cutover', params, {env: f.env, config: f.config, stateDir})
    const res = await launch(target, launchFlags(f, stateDir, this.jsonEnabled()))
    return this.finishRun(res)
  }
}

export function parseSteps(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim())
  const steps = parts.map(Number)
  const bad = parts.find((p, i) => p === '' || !Number.isInteger(steps[i]) || steps[i]! < 1 || steps[i]! > 100)
  if (bad !== undefined) throw new UsageError(`--steps ${raw}: "${bad}" is not a percentage from 1 to 100; expected e.g. 10,50,100.`, {code: 'BAD_FLAG'})
  if (steps.some((v, i) => i > 0 && v <= steps[i - 1]!)) throw new UsageError(`--steps ${raw}: expected percentages in increasing order, e.g. 10,50,100.`, {code: 'BAD_FLAG'})
  return steps
}
