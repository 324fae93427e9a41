import {SandboxCommand, stateDirFlag} from '../../command.js'
import {controlCall, requireSandbox} from '../../manager.js'

export default class SandboxReset extends SandboxCommand<typeof SandboxReset> {
  static override summary = 'Reseed the running sandbox: fresh AWS, Kubernetes and PostgreSQL state, healthy stacks, no faults.'
  static override examples = ['<%= config.bin %> sandbox reset']
  static override flags = {'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const info = requireSandbox(this.stateRoot(this.flags['state-dir']))
    const r = await controlCall(info, '/reset', {})
    if (!this.jsonEnabled()) this.log('Sandbox reset: reseeded (PostgreSQL too), stacks healthy, no faults.')
    return r
  }
}
