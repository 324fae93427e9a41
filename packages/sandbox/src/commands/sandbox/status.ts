import {Flags} from '@oclif/core'
import {SandboxCommand, stateDirFlag} from '../../command.js'
import type {SandboxPostgres} from '../../layout.js'
import {controlCall, requireSandbox} from '../../manager.js'
// Static: yaml is CommonJS, whose names a bundled `await import()` does not carry (only default).
import {parse} from 'yaml'

export default class SandboxStatus extends SandboxCommand<typeof SandboxStatus> {
  static override summary = "Show the running sandbox's endpoints, files and stacks."
  static override description =
    "Exit code 1 when no sandbox is running. --env-vars prints shell exports that point the AWS CLI, kubectl, helm and terraform at the sandbox, and the notification sink's secrets that the sandbox environment's notify config names."
  static override examples = [
    '<%= config.bin %> sandbox status',
    {description: 'Endpoints as JSON', command: '<%= config.bin %> sandbox status --json | jq .awsEndpoint'},
    {
      description: 'Use the official clients against it',
      command:
        'eval "$(<%= config.bin %> sandbox status --env-vars)" && aws route53 list-resource-record-sets --hosted-zone-id "$(<%= config.bin %> sandbox status --json | jq -r .hostedZoneId)"',
    },
  ]

  static override flags = {
    'env-vars': Flags.boolean({summary: 'Print export lines for AWS_ENDPOINT_URL, AWS_PROFILE, KUBECONFIG and friends, and the notification secrets.'}),
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    let info
    try {
      info = requireSandbox(this.stateRoot(this.flags['state-dir']))
    } catch (error) {
      if (this.jsonEnabled()) this.logJson({running: false})
      else process.stderr.write(`${(error as Error).message}\n`)
      this.exit(1)
    }
    const live = await controlCall<{
      stacks: Record<string, {up: boolean; errorRate: number; latencyMs: number; totals: {requests: number}}>
      resolver: {weights: Record<string, number>}
      faults: unknown[]
      postgres?: SandboxPostgres | null
    }>(info, '/status')
    // Live: base backups are taken while it runs.
    const postgres = live.postgres ?? null
    if (this.flags['env-vars']) {
      const {readFileSync} = await import('node:fs')
      const cfg = parse(readFileSync(info.config, 'utf8'))
      for (const [k, v] of Object.entries(cfg.environments.sandbox.tools.env as Record<string, string>)) this.log(`export ${k}=${JSON.stringify(v)}`)
      // The notification secrets are kept out of the config (runs copy it into their state).
      if (info.notify) {
        for (const line of readFileSync(info.notify.envFile, 'utf8').split('\n')) {
          const eq = line.indexOf('=')
          if (eq > 0) this.log(`export ${line.slice(0, eq)}=${JSON.stringify(line.slice(eq + 1))}`)
        }
      }
      this.log(`export PATH=${JSON.stringify(info.bin)}:"$PATH"`)
      return {running: true, ...info, postgres}
    }
    if (!this.jsonEnabled()) {
      this.log(`Sandbox running (pid ${info.pid}, since ${info.startedAt}).`)
      this.log(`  AWS endpoint    ${info.awsEndpoint}`)
      this.log(`  Kubernetes API  ${info.kubernetesApi}  kubeconfig ${info.kubeconfig}`)
      this.log(
        `  public endpoint ${info.publicUrl}  resolver answers with weights ${
          Object.entries(live.resolver.weights)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || '(none yet: no answer cached)'
        }`,
      )
      for (const [name, s] of Object.entries(live.stacks)) {
        this.log(
          `  ${name.padEnd(10)} ${s.up ? 'up  ' : 'DOWN'} ${info.stacks[name as 'legacy']}  error rate ${s.errorRate}, latency +${s.latencyMs}ms, ${s.totals.requests} requests`,
        )
      }
      this.log(`  faults          ${live.faults.length ? JSON.stringify(live.faults) : 'none'}`)
      this.log(
        `  postgres        ${postgres ? `127.0.0.1:${postgres.port} (the RDS instance's endpoint; URL in $CLIPPER_SANDBOX_DATABASE_URL), ${postgres.baseBackups} base backups, data in ${postgres.dataRoot}` : 'none (see the warnings of sandbox up)'}`,
      )
      if (info.notify) this.log(`  notify sink     ${info.notify.url}  deliveries ${info.notify.deliveries}  (secrets: eval "$(clipper-ops sandbox status --env-vars)")`)
      this.log(`  config          ${info.config}`)
    }
    return {running: true, ...info, postgres, live}
  }
}
