import {OpsCommand} from '../../lib/command.js'
import {stateDirFlag} from '../../lib/flags.js'
import {controlCall, requireSandbox} from '../../lib/sandbox/manager.js'

export default class SandboxReset extends OpsCommand<typeof SandboxReset> {
  static override summary = 'Reseed the running sandbox: fresh AWS and Kubernetes state, healthy stacks, no faults.'
  static override examples = ['<%= config.bin %> sandbox reset']
  static override flags = {'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const info = requireSandbox(this.stateDir(this.flags['state-dir']).root)
    const r = await controlCall(info, '/reset', {})
    if (!this.jsonEnabled()) this.log('Sandbox reset: reseeded, stacks healthy, no faults.')
    return r
  }
}
