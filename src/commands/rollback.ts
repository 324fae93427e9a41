import {Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../lib/errors.js'
import {durationFlag, runFlags} from '../lib/flags.js'
import {RunbookCommand} from '../lib/runbook-command.js'

export default class Rollback extends RunbookCommand<typeof Rollback> {
  static override summary = 'Send all traffic back to Docker Compose within the rollback budget (30 minutes by default).'
  static override description = `Runs the built-in rollback runbook: docker compose up -d on the legacy host (DOCKER_HOST from the config), its health, the database-sync hook (database.syncHook), all traffic to legacy in one change batch, INSYNC, the TTL, then a check that users are served by legacy. Its deadline is slos.rollbackBudget: the display shows elapsed and remaining time; overrunning it is reported loudly but never stops a rollback. The report records the time to recovery.

The budget decides before any change: the rollback is planned from the live state first, and if its worst case (waiting for INSYNC may take up to 10 minutes) cannot fit the budget it is refused at once (exit 1, nothing changed), naming the longest steps and offering the runbook's faster path, --fast (a 1s verification window, at most 2 minutes for INSYNC). --over-budget starts it anyway; --dry-run shows the same verdict.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'Roll back production now', command: '<%= config.bin %> rollback --env production --yes'},
    {description: 'What a rollback would do, and its worst case against the budget', command: '<%= config.bin %> rollback --env production --dry-run'},
    {
      description: 'Roll back on the faster path the runbook declares, when the worst case does not fit the budget',
      command: '<%= config.bin %> rollback --env production --fast --yes',
    },
    {description: 'Skip the served-by check where the stacks set no such header', command: '<%= config.bin %> rollback --env staging --served-by-header ""'},
  ]

  static override flags = {
    ...runFlags,
    env: Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to act on (default: defaultEnvironment).', env: 'CLIPPER_OPS_ENV'}),
    'served-by-header': Flags.string({summary: 'Response header naming the stack that answered (empty: skip that check).', default: 'x-served-by'}),
    'served-by-value': Flags.string({summary: 'Its value for the legacy stack.', default: 'legacy'}),
    'verify-for': durationFlag({summary: 'How long to watch public traffic after the switch.', default: '5s'}),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    return this.runRunbook('rollback', {servedByHeader: f['served-by-header'], servedByValue: f['served-by-value'], verifyFor: f['verify-for']})
  }
}
