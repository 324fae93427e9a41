import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {launch, resolveTarget} from '../../lib/engine/launch.js'
import {noInputFlag, outputFlag, stateDirFlag} from '../../lib/flags.js'
import {runningSandbox, sandboxDown, sandboxUp} from '../../lib/sandbox/manager.js'

export default class SandboxRehearse extends OpsCommand<typeof SandboxRehearse> {
  static override summary = 'Rehearse the main job end to end: start the sandbox, roll out to Kubernetes, roll back to Docker Compose, stop the sandbox.'
  static override description = `The same rollout and rollback an on-call engineer runs against production (the built-in cutover and rollback runbooks), against the local sandbox: no cloud account needed. A sandbox that was already running is used and left running; one started here is stopped at the end, also when a step fails, leaving no process behind.

Exit codes: 0 both succeeded, 1 one failed (see its report), 2 bad flags.`

  static override examples = ['<%= config.bin %> sandbox rehearse', {description: 'Keep the sandbox afterwards to look around', command: '<%= config.bin %> sandbox rehearse --keep'}]

  static override flags = {
    bake: Flags.string({summary: 'How long the gates watch each rollout step.', default: '2s'}),
    keep: Flags.boolean({summary: 'Leave the sandbox running afterwards.'}),
    output: outputFlag,
    'no-input': noInputFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const stateDir = this.stateDir(f['state-dir'])
    const wasRunning = Boolean(runningSandbox(stateDir.root))
    const results: Record<string, unknown> = {}
    let exitCode = 0
    try {
      const {info, started} = await sandboxUp(stateDir.root)
      this.note(started ? `Sandbox ready in ${((info.readyMs ?? 0) / 1000).toFixed(1)}s (${info.awsEndpoint}).` : 'Using the running sandbox.')
      const common = {env: 'sandbox', stateDir, output: f.output, yes: true, noInput: f['no-input'], json: this.jsonEnabled()}
      for (const [name, params] of [
        ['cutover', {bake: f.bake}],
        ['rollback', {}],
      ] as const) {
        this.note(`\n— ${name === 'cutover' ? 'Rollout: Docker Compose → Kubernetes' : 'Rollback: Kubernetes → Docker Compose'} —`)
        const res = await launch(await resolveTarget(name, params, {env: 'sandbox', stateDir}), common)
        results[name] = res.json
        if (res.exitCode !== 0) {
          exitCode = res.exitCode
          break
        }
      }
    } finally {
      if (!wasRunning && !f.keep) {
        await sandboxDown(stateDir.root)
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
