import {Args, Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {runSummary, summaryLines} from '../../lib/report/run-summary.js'
import {configFlag, stateDirFlag} from '../../lib/flags.js'
import {runJunit, runMarkdown} from '../../lib/report/run-report.js'
import {buildTimeline, timelineText} from '../../lib/report/timeline.js'

export default class RunsShow extends OpsCommand<typeof RunsShow> {
  static override summary = 'Show a run: its steps, what they changed, and how to continue or undo it.'
  static override examples = [
    '<%= config.bin %> runs show latest',
    {description: 'The run report as Markdown (for an incident document)', command: '<%= config.bin %> runs show 20261123-101500-rollback-3f2a --output markdown'},
    {description: 'The journal: every transition, in order', command: '<%= config.bin %> runs show latest --journal --json'},
    {description: "A run from the team's state in S3, from any machine", command: '<%= config.bin %> runs show 20261123-101500-rollback-3f2a --env production'},
  ]

  static override args = {id: Args.string({required: true, description: 'Run id (a unique prefix or suffix will do; "latest" for the newest).'})}

  static override flags = {
    output: Flags.option({char: 'o', summary: 'Format of the report.', options: ['text', 'markdown', 'junit'] as const, default: 'text'})(),
    journal: Flags.boolean({summary: 'Include the journal (every event of the run).'}),
    env: Flags.string({char: 'e', summary: "The run's environment: with team state (state: s3://…) the run is read from there."}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const store = await this.runStore({env: f.env, config: f.config, stateDir: this.stateDir(f['state-dir'])})
    const id = await store.resolveId(this.args.id)
    const state = await store.load(id)
    const journal = f.journal ? await store.readJournal(id) : undefined
    const timeline = buildTimeline(state)
    if (!this.jsonEnabled()) {
      if (f.output === 'markdown') this.log(runMarkdown(state))
      else if (f.output === 'junit') this.log(runJunit(state))
      else {
        for (const l of summaryLines(state)) this.log(l)
        this.log('')
        for (const s of state.steps) {
          const mark = {succeeded: '✔', failed: '✖', skipped: '↷', running: '?', pending: '·'}[s.status]
          const extra = s.error?.message ?? s.summary ?? (s.status === 'running' ? 'in doubt: started, result not recorded' : '')
          this.log(`  ${mark} ${s.compensationFor ? '↩ ' : ''}${s.title}${extra ? ` — ${extra}` : ''}`)
        }
        // The same timeline as report.md's Mermaid charts, for a terminal.
        this.log('')
        for (const l of timelineText(state, timeline)) this.log(l)
        if (journal) {
          this.log('')
          for (const e of journal) this.log(`${e.at}  #${e.seq} ${e.type}${'stepId' in e ? ` ${e.stepId}` : ''}`)
        }
      }
    }
    return {...runSummary(state), params: state.params, who: state.who, attempts: state.attempts, timeline, ...(journal ? {journal} : {})}
  }
}
