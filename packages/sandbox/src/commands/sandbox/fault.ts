import {Flags} from '@oclif/core'
import {SandboxUsageError} from '../../sandbox-error.js'
import {SandboxCommand, stateDirFlag} from '../../command.js'
import {controlCall, frontCall, requireSandbox} from '../../manager.js'
import {SANDBOX} from '../../seed.js'

const API_KINDS = {
  throttle: 'throttle',
  'prior-request-not-complete': 'priorRequestNotComplete',
  http500: 'http500',
  http503: 'http503',
  drop: 'drop',
  'lost-response': 'lostResponse',
} as const

export default class SandboxFault extends SandboxCommand<typeof SandboxFault> {
  static override summary = 'Inject or clear faults: in a stack, in a Kubernetes deployment, or in front of an AWS API.'
  static override description = `Stacks (--stack): an error rate (5xx), added latency, or down (connection refused) / up.
AWS APIs (--api service:Operation, or service:* ): the next N requests (or a --probability of them) answered with Throttling, PriorRequestNotComplete, HTTP 500/503, a dropped connection, or delayed by --latency — as AWS would answer, so the SDK's and clipper-ops's retries meet the real thing.
Deployments (--deployment namespace/name): pods unready, crash-looping, or healthy again.
EKS node groups (--nodegroup name): DEGRADED with a health issue, as AWS reports one that lost instances, or healthy again.
Notifications (--notify slack|pagerduty|webhook, or * for all): the sink answers the next N (or a --probability of them) with HTTP 500/503 or 429, drops the connection, or answers late (--latency) — a chat or paging outage, which a rollout or rollback must survive.`

  static override examples = [
    {description: 'Half the Kubernetes stack answers 503', command: '<%= config.bin %> sandbox fault --stack kubernetes --error-rate 0.5'},
    {description: 'Slow', command: '<%= config.bin %> sandbox fault --stack kubernetes --latency 300ms'},
    {description: 'Down', command: '<%= config.bin %> sandbox fault --stack legacy --down'},
    {description: 'Throttle the next three Route 53 change batches', command: '<%= config.bin %> sandbox fault --api route53:ChangeResourceRecordSets --throttle 3'},
    {description: 'Crash-loop the backend', command: '<%= config.bin %> sandbox fault --deployment clipper/clipper-backend --crash-loop'},
    {description: 'A node group that cannot launch instances', command: '<%= config.bin %> sandbox fault --nodegroup clipper-nodes --degraded'},
    {description: 'Slack down for the next five notifications', command: '<%= config.bin %> sandbox fault --notify slack --http503 5'},
    {description: 'Clear every fault', command: '<%= config.bin %> sandbox fault --clear'},
  ]

  static override flags = {
    stack: Flags.option({summary: 'A stack to change.', options: ['legacy', 'kubernetes'] as const})(),
    'error-rate': Flags.string({summary: 'With --stack: fraction of requests answered 503 (0 to 1).'}),
    latency: Flags.string({summary: 'With --stack, --api or --notify: added latency, e.g. 300ms.'}),
    down: Flags.boolean({summary: 'With --stack: stop listening (connection refused).'}),
    up: Flags.boolean({summary: 'With --stack: listen again.', exclusive: ['down']}),
    api: Flags.string({summary: 'An AWS API as service:Operation (service:* for all), e.g. route53:ChangeResourceRecordSets.'}),
    throttle: Flags.integer({summary: 'With --api: answer the next N requests with Throttling (--notify: HTTP 429).', min: 1}),
    'prior-request-not-complete': Flags.integer({summary: 'With --api: answer the next N with PriorRequestNotComplete.', min: 1}),
    http500: Flags.integer({summary: 'With --api or --notify: answer the next N with HTTP 500.', min: 1}),
    http503: Flags.integer({summary: 'With --api or --notify: answer the next N with HTTP 503.', min: 1}),
    drop: Flags.integer({summary: 'With --api or --notify: drop the connection of the next N.', min: 1}),
    'lost-response': Flags.integer({summary: 'With --api: let the next N take effect in AWS, then drop the connection before the answer.', min: 1}),
    'late-response': Flags.string({summary: 'With --api: let requests take effect in AWS, then hold the answer this long, e.g. 2s.'}),
    probability: Flags.string({summary: 'With --api or --notify: instead of a count, hit each request with this probability until cleared.'}),
    deployment: Flags.string({summary: 'A Kubernetes deployment as namespace/name.'}),
    'crash-loop': Flags.boolean({summary: 'With --deployment: its pods crash-loop.'}),
    unready: Flags.boolean({summary: 'With --deployment: its pods are not ready.'}),
    healthy: Flags.boolean({summary: 'With --deployment or --nodegroup: heal it.'}),
    nodegroup: Flags.string({summary: 'An EKS node group of the sandbox cluster, by name.'}),
    degraded: Flags.boolean({summary: 'With --nodegroup: DEGRADED, with an instance-launch health issue.'}),
    notify: Flags.option({summary: 'A notification endpoint of the sink: slack, pagerduty, webhook, or * for all.', options: ['slack', 'pagerduty', 'webhook', '*'] as const})(),
    clear: Flags.boolean({summary: 'Clear every fault: AWS faults, notification faults, stack knobs (all up, no errors, no latency).'}),
    list: Flags.boolean({summary: 'Show the faults in place.'}),
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const targets = [f.stack, f.api, f.deployment, f.nodegroup, f.notify, f.clear || undefined, f.list || undefined].filter((x) => x !== undefined)
    if (targets.length !== 1)
      throw new SandboxUsageError('Give exactly one of --stack, --api, --deployment, --nodegroup, --notify, --clear or --list (see --help).', {code: 'BAD_FAULT'})
    const info = requireSandbox(this.stateRoot(f['state-dir']))

    if (f.list) {
      const status = await controlCall(info, '/status')
      const listed = {api: status.faults, notify: status.notifyFaults ?? [], stacks: status.stacks}
      if (!this.jsonEnabled()) this.log(JSON.stringify(listed, null, 2))
      return listed
    }
    if (f.clear) {
      await frontCall(info, 'DELETE', '/_sandbox/faults')
      await controlCall(info, '/notify/faults', {clear: true})
      for (const s of ['legacy', 'kubernetes']) await controlCall(info, `/stacks/${s}`, {up: true, errorRate: 0, latencyMs: 0})
      if (!this.jsonEnabled()) this.log('All faults cleared; both stacks up and healthy.')
      return {cleared: true}
    }
    if (f.stack) {
      const knobs: Record<string, unknown> = {}
      if (f['error-rate'] !== undefined) {
        const r = Number(f['error-rate'])
        if (!(r >= 0 && r <= 1)) throw new SandboxUsageError(`--error-rate ${f['error-rate']}: expected a fraction from 0 to 1, e.g. 0.5.`, {code: 'BAD_FAULT'})
        knobs.errorRate = r
      }
      if (f.latency !== undefined) knobs.latencyMs = this.duration(f.latency)
      if (f.down) knobs.up = false
      if (f.up) knobs.up = true
      if (Object.keys(knobs).length === 0) throw new SandboxUsageError('--stack needs --error-rate, --latency, --down or --up.', {code: 'BAD_FAULT'})
      const r = await controlCall(info, `/stacks/${f.stack}`, knobs)
      if (!this.jsonEnabled()) this.log(`${f.stack} stack: ${r.up ? 'up' : 'DOWN'}, error rate ${r.errorRate}, latency +${r.latencyMs}ms`)
      return r
    }
    if (f.nodegroup) {
      if (!f.degraded && !f.healthy) throw new SandboxUsageError('--nodegroup needs --degraded or --healthy.', {code: 'BAD_FAULT'})
      const health = f.degraded
        ? {
            status: 'DEGRADED',
            issues: [
              {
                code: 'AsgInstanceLaunchFailures',
                message: 'Could not launch On-Demand Instances. InsufficientInstanceCapacity (sandbox fault)',
                resourceIds: [`eks-${f.nodegroup}`],
              },
            ],
          }
        : {status: 'ACTIVE', issues: []}
      const r = await frontCall(info, 'POST', `/_sandbox/eks/${encodeURIComponent(SANDBOX.cluster)}/nodegroups/${encodeURIComponent(f.nodegroup)}`, health)
      if (!this.jsonEnabled()) this.log(`node group ${SANDBOX.cluster}/${f.nodegroup}: ${health.status}`)
      return r
    }
    if (f.deployment) {
      const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(f.deployment)
      if (!m) throw new SandboxUsageError(`--deployment ${f.deployment}: expected namespace/name, e.g. clipper/clipper-backend.`, {code: 'BAD_FAULT'})
      const h = f['crash-loop'] ? {crashLoop: true} : f.unready ? {ready: false} : f.healthy ? {ready: true, crashLoop: false} : undefined
      if (!h) throw new SandboxUsageError('--deployment needs --crash-loop, --unready or --healthy.', {code: 'BAD_FAULT'})
      const r = await controlCall(info, `/kubernetes/deployments/${m[1]}/${m[2]}`, h)
      if (!this.jsonEnabled()) this.log(`${f.deployment}: ${JSON.stringify(h)}`)
      return r
    }
    if (f.notify) {
      const awsOnly = (['prior-request-not-complete', 'lost-response', 'late-response'] as const).find((k) => f[k] !== undefined)
      if (awsOnly) throw new SandboxUsageError(`--${awsOnly} is an AWS API fault; --notify takes --throttle, --http500, --http503, --drop or --latency.`, {code: 'BAD_FAULT'})
      const rule = {provider: f.notify, ...this.faultKind('--notify')}
      const r = await controlCall<{id: string}>(info, '/notify/faults', rule)
      if (!this.jsonEnabled()) this.log(`Fault ${r.id} in place: ${JSON.stringify(rule)}`)
      return {id: r.id, rule}
    }
    const m = /^([a-z0-9-]+):([A-Za-z0-9*]+)$/.exec(f.api!)
    if (!m) throw new SandboxUsageError(`--api ${f.api}: expected service:Operation, e.g. route53:ChangeResourceRecordSets or route53:*.`, {code: 'BAD_FAULT'})
    const rule: Record<string, unknown> = {service: m[1], operation: m[2], ...this.faultKind('--api')}
    const r = await frontCall<{id: string}>(info, 'POST', '/_sandbox/faults', rule)
    if (!this.jsonEnabled()) this.log(`Fault ${r.id} in place: ${JSON.stringify(rule)}`)
    return {id: r.id, rule}
  }

  /** The fault of an --api or --notify rule: its kind, count or probability, latency. */
  private faultKind(target: '--api' | '--notify'): Record<string, unknown> {
    const f = this.flags
    const given = (Object.keys(API_KINDS) as (keyof typeof API_KINDS)[]).filter((k) => f[k] !== undefined)
    if (given.length > 1) throw new SandboxUsageError(`Give one fault kind for ${target}, not ${given.map((g) => `--${g}`).join(' and ')}.`, {code: 'BAD_FAULT'})
    const rule: Record<string, unknown> = {}
    if (given.length === 1) {
      rule.kind = API_KINDS[given[0]!]
      if (f.probability === undefined) rule.count = f[given[0]!]
    } else if (f['late-response'] !== undefined) {
      if (f.latency !== undefined) throw new SandboxUsageError('Give --late-response D or --latency D, not both.', {code: 'BAD_FAULT'})
      rule.kind = 'lateResponse'
      rule.latencyMs = this.duration(f['late-response'], '--late-response')
    } else if (f.latency !== undefined) rule.kind = 'latency'
    else
      throw new SandboxUsageError(
        `${target} needs a fault: --throttle N, ${target === '--api' ? '--prior-request-not-complete N, --lost-response N, --late-response D, ' : ''}--http500 N, --http503 N, --drop N or --latency D.`,
        {code: 'BAD_FAULT'},
      )
    if (f.latency !== undefined) rule.latencyMs = this.duration(f.latency)
    if (f.probability !== undefined) {
      const p = Number(f.probability)
      if (!(p > 0 && p <= 1)) throw new SandboxUsageError(`--probability ${f.probability}: expected a fraction above 0 and at most 1.`, {code: 'BAD_FAULT'})
      rule.probability = p
    }
    return rule
  }

  private duration(v: string, flag = '--latency'): number {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.trim())
    const ms = m ? Math.round(Number(m[1]) * {ms: 1, s: 1000, m: 60_000}[m[2] as 'ms' | 's' | 'm']) : undefined
    if (ms === undefined) throw new SandboxUsageError(`${flag} ${v}: expected a duration such as 300ms or 2s.`, {code: 'BAD_FAULT'})
    return ms
  }
}
