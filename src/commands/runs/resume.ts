import {Args, Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../../lib/errors.js'
import {noInputFlag, outputFlag, stateDirFlag, yesFlag} from '../../lib/flags.js'
import {RunbookCommand} from '../../lib/runbook-command.js'

export default class RunsResume extends RunbookCommand<typeof RunsResume> {
  static override summary = 'Continue a run that stopped: interrupted, killed, or failed at a step.'
  static override description = `Continues from the step that did not finish. A step that had started but whose result was never recorded is "in doubt": it reads the world again (the live DNS weights, whether a check passes) and either records itself done or acts again. When it cannot tell, the resume stops and asks you to decide with --assume-done or --rerun.

Takes --yes like the run it resumes (protected environments, approval steps).

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'Continue the latest run', command: '<%= config.bin %> runs resume latest'},
    {description: 'Continue a run in CI, approving its approval steps', command: '<%= config.bin %> runs resume 20261123-101500-cutover-3f2a --yes --no-input'},
    {description: 'Settle a step that cannot tell whether it took effect', command: '<%= config.bin %> runs resume 20261123-101500-demo-3f2a --assume-done migrate'},
  ]

  static override args = {id: Args.string({required: true, description: 'Run id (a unique prefix or suffix will do; "latest" for the newest).'})}

  static override flags = {
    yes: yesFlag,
    'no-input': noInputFlag,
    output: outputFlag,
    'state-dir': stateDirFlag,
    'assume-done': Flags.string({summary: 'Record an in-doubt step as done without running it (you checked: it took effect).', multiple: true}),
    rerun: Flags.string({summary: 'Run an in-doubt step again (you checked: it did not take effect, or repeating it is safe).', multiple: true}),
  }

  async run(): Promise<unknown> {
    return this.resumeRunbook(this.args.id, {assumeDone: this.flags['assume-done'], rerun: this.flags.rerun})
  }
}
