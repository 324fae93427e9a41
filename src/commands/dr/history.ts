import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {configFlag, envFlag, stateDirFlag} from '../../lib/flags.js'
import {describePlace, historyPlace, readHistory} from '../../lib/dr/history.js'
import {historyMarkdown, historyTable} from '../../lib/report/drill-history-report.js'

export default class DrHistory extends OpsCommand<typeof DrHistory> {
  static override summary = 'RTO and RPO of past drills, over time, against their targets.'
  static override description = `Reads the drill history of the environment — dr.history (s3://bucket/prefix, shared by the team) or the local default <state dir>/dr-history — and shows each drill: when, its verdict, RTO and RPO against their targets, what was restored. --output markdown adds a Mermaid chart of RTO and RPO over time (GitHub renders it); --json gives the drills as recorded.`

  static override examples = [
    {description: 'The last drills of production', command: '<%= config.bin %> dr history --env production'},
    {description: 'For a status page or a PR comment', command: '<%= config.bin %> dr history --env production --output markdown'},
  ]

  static override flags = {
    env: envFlag,
    limit: Flags.integer({summary: 'Show at most this many of the newest drills.', default: 20, min: 1}),
    output: Flags.option({char: 'o', summary: 'table (default) or markdown (with a Mermaid chart).', options: ['table', 'markdown'] as const})(),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const stateRoot = this.stateDir(f['state-dir']).root
    const {name, environment} = await loadEnvironment({env: f.env, config: f.config, stateRoot})
    const drills = (await readHistory(environment, name, stateRoot)).slice(-f.limit)
    const where = describePlace(historyPlace(environment, stateRoot))
    if (!this.jsonEnabled()) this.log(f.output === 'markdown' ? historyMarkdown(name, drills) : historyTable(name, drills, where))
    return {environment: name, history: where, drills}
  }
}
