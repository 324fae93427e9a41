import {Flags} from '@oclif/core'
import {SandboxCommand, stateDirFlag} from '../../command.js'
import {controlCall, requireSandbox} from '../../manager.js'

export default class SandboxReset extends SandboxCommand<typeof SandboxReset> {
  static override summary = 'Reseed the running sandbox: fresh AWS, Kubernetes and PostgreSQL state, healthy stacks, no faults.'
  static override description =
    'With --traffic, only what a cutover or a rollback moves goes back: the weighted records as seeded (all traffic on legacy), no lock and nothing else a run or a colleague added to the zone, no faults, healthy stacks. It takes about a second; Kubernetes, S3, the databases and the hosted zone itself are kept.'
  static override examples = ['<%= config.bin %> sandbox reset', '<%= config.bin %> sandbox reset --traffic']
  static override flags = {
    'state-dir': stateDirFlag,
    traffic: Flags.boolean({description: 'Reset only the traffic: the weighted records as seeded, no lock, no faults, healthy stacks (about a second).'}),
  }

  async run(): Promise<unknown> {
    const info = requireSandbox(this.stateRoot(this.flags['state-dir']))
    const traffic = this.flags.traffic
    const r = await controlCall(info, '/reset', traffic ? {traffic: true} : {})
    if (!this.jsonEnabled()) {
      this.log(
        traffic
          ? 'Sandbox traffic reset: all traffic on legacy as seeded, no lock, stacks healthy, no faults.'
          : 'Sandbox reset: reseeded (PostgreSQL too), stacks healthy, no faults.',
      )
    }
    return r
  }
}
