import {Args, Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../../lib/errors.js'
import {UsageError} from '../../lib/errors.js'
import {configFlag, noInputFlag, outputFlag, stateDirFlag, yesFlag} from '../../lib/flags.js'
import {RunbookCommand} from '../../lib/runbook-command.js'

export default class RunsResume extends RunbookCommand<typeof RunsResume> {
  static override summary = 'Continue a run that stopped: interrupted, killed, or failed at a step.'
  static override description = `Continues from the step that did not finish. A step that had started but whose result was never recorded is "in doubt": it reads the world again (the live DNS weights, whether a check passes) and either records itself done or acts again. When it cannot tell, the resume stops and asks you to decide with --assume-done or --rerun.

Takes --yes like the run it resumes (protected environments, approval steps).

Team state (state: s3://… in the config): pass --env (or rely on the config's state) to find the run in S3, from any machine. A run whose lease is held by another operator (another machine or user) is never taken silently: while the lease is alive you are told who holds it and until when; once it is dead (not renewed within CLIPPER_OPS_LOCK_TTL), take it over with --take-over --reason "<why>" — recorded in the audit trail with both operators. The previous holder's in-doubt step is settled by reading the world, and if that holder comes back to life its next write is refused and it stops without acting.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'Continue the latest run', command: '<%= config.bin %> runs resume latest'},
    {description: 'Continue a run in CI, approving its approval steps', command: '<%= config.bin %> runs resume 20261123-101500-cutover-3f2a --yes --no-input'},
    {description: 'Settle a step that cannot tell whether it took effect', command: '<%= config.bin %> runs resume 20261123-101500-demo-3f2a --assume-done migrate'},
    {
      description: "Continue a colleague's rollback from your machine after theirs died (team state in S3)",
      command: '<%= config.bin %> runs resume 20261123-101500-rollback-3f2a --env production --take-over --reason "alice\'s laptop died mid-rollback" --yes',
    },
  ]

  static override args = {id: Args.string({required: true, description: 'Run id (a unique prefix or suffix will do; "latest" for the newest).'})}

  static override flags = {
    yes: yesFlag,
    'no-input': noInputFlag,
    output: outputFlag,
    'state-dir': stateDirFlag,
    'assume-done': Flags.string({summary: 'Record an in-doubt step as done without running it (you checked: it took effect).', multiple: true}),
    rerun: Flags.string({summary: 'Run an in-doubt step again (you checked: it did not take effect, or repeating it is safe).', multiple: true}),
    env: Flags.string({char: 'e', summary: "The run's environment: its team state (state: s3://…) is where the run is looked up."}),
    config: configFlag,
    'take-over': Flags.boolean({summary: "Take over the dead lease of another operator's run (needs --reason)."}),
    reason: Flags.string({summary: 'Why you take the run over; recorded in the audit trail.', dependsOn: ['take-over']}),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    if (f['take-over'] && !f.reason?.trim()) {
      throw new UsageError('--take-over needs --reason "<why>": a handover is recorded in the audit trail with both operators and your reason.', {code: 'REASON_REQUIRED'})
    }
    return this.resumeRunbook(this.args.id, {assumeDone: f['assume-done'], rerun: f.rerun, ...(f['take-over'] ? {takeOver: {reason: f.reason!.trim()}} : {})})
  }
}
