import {Flags} from '@oclif/core'
import {SandboxCommand, stateDirFlag} from '../../command.js'
import {sandboxUp} from '../../manager.js'

export default class SandboxUp extends SandboxCommand<typeof SandboxUp> {
  static override summary = 'Start the sandbox: a local stand-in for the cloud to rehearse any runbook on.'
  static override description = `Starts, in the background on free loopback ports: AWS (moto_server behind a front that enforces Route 53's change-batch rules, serves AWS Backup jobs and recovery points, injects faults and logs every request), a real PostgreSQL behind the RDS instance (WAL archived, base backups, so that restores to a point in time or from a snapshot make real databases; without PostgreSQL installed, a warning), a Kubernetes API stand-in (kubectl, helm and client-node work against it), the legacy Docker Compose stack and the Kubernetes stack as local HTTP services, and a public endpoint that routes by the live DNS weights. It seeds a small Clipper environment and writes a config with a "sandbox" environment, so that "--env sandbox" works at once. Returns when everything answers.`

  static override examples = [
    {description: 'Start it', command: '<%= config.bin %> sandbox up'},
    {description: 'Then rehearse a cutover and a rollback (two commands)', command: '<%= config.bin %> rollout --env sandbox && <%= config.bin %> rollback --env sandbox'},
    {description: 'Point the AWS CLI and kubectl at it, in this shell', command: 'eval "$(<%= config.bin %> sandbox status --env-vars)"'},
    {description: 'Then use them as against AWS', command: 'aws route53 list-hosted-zones && kubectl get deploy -n clipper'},
  ]

  static override flags = {
    ttl: Flags.integer({summary: 'TTL (seconds) of the seeded weighted records; a rollout waits it out after each shift.', default: 5, min: 0, max: 300}),
    'change-delay': Flags.integer({summary: 'How long (ms) Route 53 changes stay PENDING before INSYNC.', default: 2000, min: 0, max: 60_000}),
    'snapshot-copy-interval': Flags.integer({
      summary: 'Seconds between the snapshots of the RDS instance copied to the secondary region (us-west-2), as a copy rule would; 0 for none.',
      description: 'Each is a real base backup of the PostgreSQL behind the instance, copied at once; the newest 3 of each are kept. It bounds the region RPO a drill measures.',
      default: 60,
      min: 0,
      max: 86_400,
      env: 'CLIPPER_OPS_SANDBOX_SNAPSHOT_COPY_INTERVAL',
    }),
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const dir = this.stateRoot(this.flags['state-dir'])
    const {info, started} = await sandboxUp(dir, {
      ttlSeconds: this.flags.ttl,
      changeDelayMs: this.flags['change-delay'],
      snapshotCopyIntervalSeconds: this.flags['snapshot-copy-interval'],
      cliRoot: this.config.root,
    })
    // What the sandbox lacks is said even with --json (on stderr): a rehearsal would fail later.
    for (const w of info.warnings ?? []) process.stderr.write(`Warning: ${w}\n`)
    if (!this.jsonEnabled()) {
      this.log(started ? `Sandbox ready in ${((info.readyMs ?? 0) / 1000).toFixed(1)}s.` : 'Sandbox already running.')
      this.log(`  AWS endpoint     ${info.awsEndpoint}  (region ${info.region}; zone ${info.recordName} ${info.hostedZoneId})`)
      this.log(`  Kubernetes API   ${info.kubernetesApi}  (kubeconfig ${info.kubeconfig})`)
      this.log(`  legacy stack     ${info.stacks.legacy}`)
      this.log(`  kubernetes stack ${info.stacks.kubernetes}`)
      this.log(`  public endpoint  ${info.publicUrl}  (routes by the live weights of ${info.recordName})`)
      this.log(`  config           ${info.config}  (environment "sandbox")`)
      this.log(`  helm             ${info.helm ?? 'none (see the warning above)'}`)
      this.log(
        `  postgres         ${info.postgres ? `127.0.0.1:${info.postgres.port}  (behind RDS instance clipper-sandbox; URL in $CLIPPER_SANDBOX_DATABASE_URL of the sandbox environment)` : 'none (see the warning above)'}`,
      )
      if (info.notify) this.log(`  notify sink      ${info.notify.url}  (Slack, PagerDuty, a webhook; what it received: ${info.notify.deliveries})`)
      this.log('')
      if (info.notify) this.log('Notifications: eval "$(clipper-ops sandbox status --env-vars)" first, for the secrets the notify config names.')
      this.log('Rehearse: clipper-ops rollout --env sandbox   then   clipper-ops rollback --env sandbox')
      this.log('Stop:     clipper-ops sandbox down')
    }
    return {started, ...info}
  }
}
