import {Args} from '@oclif/core'
import {RUN_EXIT_CODES} from '../lib/errors.js'
import {paramFlag, runFlags} from '../lib/flags.js'
import {RunbookCommand} from '../lib/runbook-command.js'

export default class Run extends RunbookCommand<typeof Run> {
  static override summary = 'Run a runbook: a YAML file, or a built-in runbook by name.'
  static override description = `Runs each step as a resumable task: state and a journal are written at every step, so a run that dies anywhere continues with "runs resume <id>". One run per environment at a time (a lock). With --dry-run, nothing changes: every step says what it would do.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'Rehearse the built-in demo runbook', command: '<%= config.bin %> run demo'},
    {description: 'Run your own runbook against staging with a parameter', command: '<%= config.bin %> run ./runbooks/migrate.yaml --env staging -p batch=500'},
    {
      description: 'Review what a runbook would change, as Markdown for a pull request',
      command: '<%= config.bin %> run ./runbooks/migrate.yaml --env production --dry-run --output markdown',
    },
    {description: 'Save a reviewed plan', command: '<%= config.bin %> run ./runbooks/migrate.yaml --env production --dry-run --save-plan plan.json'},
    {description: 'Then apply exactly that plan', command: '<%= config.bin %> run ./runbooks/migrate.yaml --env production --plan plan.json --yes'},
  ]

  static override args = {
    runbook: Args.string({required: true, description: 'Path of a runbook YAML file, or the name of a built-in runbook (see "runbook list").'}),
  }

  static override flags = {...runFlags, param: paramFlag({multiple: true})}

  async run(): Promise<unknown> {
    return this.runRunbook(this.args.runbook, Object.fromEntries((this.flags.param ?? []).map((p) => [p.key, p.value])))
  }
}
