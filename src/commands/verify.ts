import {Flags} from '@oclif/core'
import {writeFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {OpsCommand} from '../lib/command.js'
import {readOnlyContext} from '../lib/engine/read-context.js'
import {loadEnvironment} from '../lib/config/load.js'
import {EXIT} from '../lib/errors.js'
import {configFlag, envFlag, stateDirFlag} from '../lib/flags.js'
import {verify} from '../lib/verify/index.js'
import {verifyJunit, verifySummary, verifyTable} from '../lib/report/verify-report.js'

export default class Verify extends OpsCommand<typeof Verify> {
  static override summary = 'Check the platform before a deployment (--phase pre) or after it (--phase post).'
  static override description = `The infrastructure record's checklists, read-only. pre: the AWS caller identity and account, the region, the Terraform state and its lock table, the kube context (the configured EKS cluster) and permissions in the namespace, every image tag the Helm values name in ECR, the weighted DNS pair. post: the VPC (subnets, a NAT gateway per zone, routes), EKS (version, node groups, add-ons, nodes Ready), workloads (deployments available, no crash loops, HPA bounds, ingress address), load balancer targets, RDS (available, Multi-AZ, encrypted, backups), ElastiCache failover, S3 buckets, ACM certificates, AWS Backup jobs, Route 53 weights and TTL, health endpoints and CloudWatch alarms.

Each check passes, warns or fails with a one-line reason; which checks run follows from what the environment's config declares (the verify section, and the parts it names).

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad flags or config.`

  static override examples = [
    {description: 'Before provisioning production', command: '<%= config.bin %> verify --env production --phase pre'},
    {description: 'After it, with a JUnit report for CI', command: '<%= config.bin %> verify --env production --phase post --junit reports/verify-post.xml'},
    {description: 'The failed checks, as JSON', command: '<%= config.bin %> verify --env staging --phase post --json | jq \'.checks[] | select(.status == "fail")\''},
  ]

  static override flags = {
    env: envFlag,
    phase: Flags.option({summary: 'Which checklist: pre (before a deployment) or post (after it).', options: ['pre', 'post'] as const, required: true})(),
    junit: Flags.string({summary: 'Also write the results as JUnit XML to this file.'}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const stateRoot = this.stateDir(f['state-dir']).root
    const env = await loadEnvironment({env: f.env, config: f.config, stateRoot})
    const ctx = readOnlyContext({stepId: `verify-${f.phase}`, env, stateDir: stateRoot, signal: AbortSignal.timeout(10 * 60_000)})
    const at = new Date().toISOString()
    const results = await verify(ctx, env.environment, f.phase)
    if (f.junit) writeFileSync(resolve(f.junit), verifyJunit(results, {env: env.name, phase: f.phase, at}))
    if (!this.jsonEnabled()) {
      this.log(verifyTable(results, {env: env.name, phase: f.phase, width: process.stdout.columns || 120}))
      this.log('')
      this.log(verifySummary(results))
      if (results.length === 0) this.log(`Nothing to check: the config of ${env.name} declares no part that --phase ${f.phase} checks.`)
    }
    const out = {environment: env.name, phase: f.phase, at, checks: results.map((r) => ({id: r.id, status: r.status, detail: r.detail, title: r.title, durationMs: r.durationMs}))}
    if (results.some((r) => r.status === 'fail')) {
      if (this.jsonEnabled()) this.logJson(out)
      this.exit(EXIT.failed)
    }
    return out
  }
}
