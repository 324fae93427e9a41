import {SandboxCommand, stateDirFlag} from '../../command.js'
import {sandboxDown} from '../../manager.js'

export default class SandboxDown extends SandboxCommand<typeof SandboxDown> {
  static override summary = 'Stop the sandbox and every process it started.'
  static override examples = ['<%= config.bin %> sandbox down']
  static override flags = {'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const {stopped} = await sandboxDown(this.stateRoot(this.flags['state-dir']))
    if (!this.jsonEnabled()) this.log(stopped.length ? `Sandbox stopped (pids ${stopped.join(', ')}).` : 'No sandbox was running.')
    return {stopped}
  }
}
