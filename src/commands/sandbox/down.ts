import {OpsCommand} from '../../lib/command.js'
import {stateDirFlag} from '../../lib/flags.js'
import {sandboxDown} from '../../lib/sandbox/manager.js'

export default class SandboxDown extends OpsCommand<typeof SandboxDown> {
  static override summary = 'Stop the sandbox and every process it started.'
  static override examples = ['<%= config.bin %> sandbox down']
  static override flags = {'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const {stopped} = await sandboxDown(this.stateDir(this.flags['state-dir']).root)
    if (!this.jsonEnabled()) this.log(stopped.length ? `Sandbox stopped (pids ${stopped.join(', ')}).` : 'No sandbox was running.')
    return {stopped}
  }
}
