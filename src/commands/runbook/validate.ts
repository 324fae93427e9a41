import {Args} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {loadRunbook} from '../../lib/runbook/load.js'

export default class RunbookValidate extends OpsCommand<typeof RunbookValidate> {
  static override summary = 'Check a runbook file without running it.'
  static override description = `Checks the YAML, the schema, that every step kind exists and its inputs fit (inputs given as \${{ }} expressions are checked at run time), that step ids are unique, and that expressions read only declared parameters and earlier steps. Every problem names the file, line, field and what would be valid.

Exit codes: 0 valid, 2 not valid.`

  static override examples = ['<%= config.bin %> runbook validate ./runbooks/migrate.yaml', '<%= config.bin %> runbook validate cutover --json']

  static override args = {runbook: Args.string({required: true, description: 'Path of a runbook YAML file, or the name of a built-in runbook.'})}

  async run(): Promise<unknown> {
    const {runbook, file, sha256} = await loadRunbook(this.args.runbook)
    const count = (list: typeof runbook.steps): number => list.reduce((n, s) => n + 1 + (s.steps ? count(s.steps) : 0), 0)
    if (!this.jsonEnabled()) this.log(`${file}: valid runbook "${runbook.name}" with ${count(runbook.steps)} steps.`)
    return {valid: true, file, name: runbook.name, sha256, steps: count(runbook.steps)}
  }
}
