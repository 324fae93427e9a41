import {Flags} from '@oclif/core'
import {SandboxCommand, stateDirFlag} from '../../command.js'
import {runningSandbox, sandboxDown, sandboxUp} from '../../manager.js'

/** The two runs of a rehearsal: the CLI's own commands, run as the on-call engineer runs them. */
const RUNS = [
  {name: 'cutover', command: 'rollout', banner: 'Rollout: Docker Compose → Kubernetes'},
  {name: 'rollback', command: 'rollback', banner: 'Rollback: Kubernetes → Docker Compose'},
] as const

export default class SandboxRehearse extends SandboxCommand<typeof SandboxRehearse> {
  static override summary = 'Rehearse the main job end to end: start the sandbox, roll out to Kubernetes, roll back to Docker Compose, stop the sandbox.'
  static override description = `Runs "rollout --env sandbox" and then "rollback --env sandbox" — the same commands and built-in runbooks an on-call engineer runs against production — against the local sandbox: no cloud account needed. A sandbox that was already running is used and left running; one started here is stopped at the end, also when a step fails, leaving no process behind.

Exit codes: 0 both succeeded, 1 one failed (see its report), 2 bad flags, 130 interrupted.`

  static override examples = [
    '<%= config.bin %> sandbox rehearse',
    {description: 'Keep the sandbox afterwards to look around', command: '<%= config.bin %> sandbox rehearse --keep'},
  ]

  static override flags = {
    bake: Flags.string({summary: 'How long the gates watch each rollout step.', default: '2s'}),
    keep: Flags.boolean({summary: 'Leave the sandbox running afterwards.'}),
    output: Flags.option({char: 'o', summary: 'How the runs show progress: plain (a line per event) or json (a JSON-lines event stream).', options: ['plain', 'json'] as const})(),
    'no-input': Flags.boolean({summary: 'Never prompt.'}),
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const stateRoot = this.stateRoot(f['state-dir'])
    const wasRunning = Boolean(runningSandbox(stateRoot))
    const results: Record<string, unknown> = {}
    let exitCode = 0
    try {
      const {info, started} = await sandboxUp(stateRoot, {cliRoot: this.config.root})
      this.note(started ? `Sandbox ready in ${((info.readyMs ?? 0) / 1000).toFixed(1)}s (${info.awsEndpoint}).` : 'Using the running sandbox.')
      for (const w of info.warnings ?? []) process.stderr.write(`Warning: ${w}\n`)
      for (const run of RUNS) {
        this.note(`\n— ${run.banner} —`)
        const argv = ['--env', 'sandbox', '--yes', '--state-dir', stateRoot, ...(run.command === 'rollout' ? ['--bake', f.bake] : [])]
        if (f.output) argv.push('--output', f.output)
        if (f['no-input']) argv.push('--no-input')
        // The CLI's own command, in this process: the sandbox knows the commands, not the engine.
        try {
          results[run.name] = await this.config.runCommand(run.command, argv)
        } catch (error) {
          const code = (error as {oclif?: {exit?: number}}).oclif?.exit
          if (code === undefined) throw error
          exitCode = code // the run said what failed, and how to go on, on stderr
          results[run.name] = {exitCode: code}
          break
        }
      }
    } finally {
      if (!wasRunning && !f.keep) {
        await sandboxDown(stateRoot)
        this.note('\nSandbox stopped.')
      }
    }
    if (exitCode !== 0) {
      if (this.jsonEnabled()) this.logJson(results)
      this.exit(exitCode)
    }
    return results
  }
}
