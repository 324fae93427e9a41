import {Flags} from '@oclif/core'
import {OpsCommand} from '../lib/command.js'
import {launch, launchFlags, resolveTarget} from '../lib/engine/launch.js'
import {runFlags} from '../lib/flags.js'

export default class Rollback extends OpsCommand<typeof Rollback> {
  static override summary = 'Send all traffic back to Docker Compose within the rollback budget (30 minutes by default).'
  static override description = `Runs the built-in rollback runbook: docker compose up -d on the legacy host (DOCKER_HOST from the config), its health, the database-sync hook (database.syncHook), all traffic to legacy in one change batch, INSYNC, the TTL, then a check that users are served by legacy. Its deadline is slos.rollbackBudget: the display shows elapsed and remaining time; overrunning it is reported loudly but never stops a rollback. The report records the time to recovery.

Exit codes: 0 rolled back, 1 a step failed (the message says what state the world is in and how to continue), 2 bad flags or config, 130 interrupted (continue with runs resume).`

  static override examples = [
    {description: 'Roll back production now', command: '<%= config.bin %> rollback --env production --yes'},
    {description: 'What a rollback would do, and its worst case against the budget', command: '<%= config.bin %> rollback --env production --dry-run'},
    {description: 'Skip the served-by check where the stacks set no such header', command: '<%= config.bin %> rollback --env staging --served-by-header ""'},
  ]

  static override flags = {
    ...runFlags,
    env: Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to act on.', env: 'CLIPPER_OPS_ENV', required: true}),
    'served-by-header': Flags.string({summary: 'Response header naming the stack that answered (empty: skip that check).', default: 'x-served-by'}),
    'served-by-value': Flags.string({summary: 'Its value for the legacy stack.', default: 'legacy'}),
    'verify-for': Flags.string({summary: 'How long to watch public traffic after the switch.', default: '5s'}),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const stateDir = this.stateDir(f['state-dir'])
    const params = {servedByHeader: f['served-by-header'], servedByValue: f['served-by-value'], verifyFor: f['verify-for']}
    const target = await resolveTarget('rollback', params, {env: f.env, config: f.config, stateDir})
    const res = await launch(target, launchFlags(f, stateDir, this.jsonEnabled()))
    return this.finishRun(res)
  }
}
