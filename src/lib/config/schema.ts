/**
 * The schema of clipper-ops.yaml. Strict everywhere, so that a typo is an error that names
 * the field, and with messages that say what would be valid.
 */
import {z} from 'zod'
import {parseDuration} from '../util/duration.js'

export const duration = (what = 'a duration') =>
  z
    .union([z.string(), z.number()], {error: `expected ${what} such as 30s, 5m or 1h30m`})
    .refine((v) => parseDuration(v) !== undefined, {error: `expected ${what} such as 30s, 5m or 1h30m`})
    .transform((v) => (typeof v === 'number' ? `${v}s` : v))

/** A fraction (0.001) or a percentage string ("0.1%"); parsed to a fraction. */
export const fraction = z.union([z.number(), z.string()], {error: 'expected a fraction like 0.001 or a percentage like "0.1%"'}).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : v.trim().endsWith('%') ? Number(v.trim().slice(0, -1)) / 100 : Number(v)
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    ctx.addIssue({code: 'custom', message: 'expected a fraction from 0 to 1 (0.001) or a percentage ("0.1%")'})
    return z.NEVER
  }
  return n
})

const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, {error: 'expected an AWS region such as us-east-1'})
const hostedZoneId = z
  .string()
  // AWS's ids start with Z; emulators' need not, so any upper-case id of the right shape is accepted.
  .regex(/^(\/hostedzone\/)?[A-Z0-9]{8,32}$/, {error: 'expected a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ'})
  .transform((v) => v.replace(/^\/hostedzone\//, ''))
const dnsName = z.string().regex(/^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/, {
  error: 'expected a DNS name such as clpr.tv or www.clpr.tv',
})
const nonEmpty = (what: string) => z.string({error: `expected ${what}`}).min(1, {error: `expected ${what}, not an empty string`})
/** http(s) URLs only: a bare "localhost:4566" would otherwise parse with "localhost:" as its scheme. */
export const httpUrl = (example: string) => z.url({protocol: /^https?$/, error: `expected an http(s) URL such as ${example}`})
/**
 * The NAME of an environment variable holding a secret. What was given is not echoed (a message
 * with " got " in it is shown as it is): it may be the secret itself, a webhook URL pasted in.
 */
const secretEnvName = (what: string, example: string) => {
  const error = `expected the NAME of an environment variable holding ${what}, e.g. ${example}; got something else, not shown here as it may be the secret itself`
  return z.string({error}).regex(/^[A-Z_][A-Z0-9_]*$/, {error})
}
const commandSpec = z.strictObject({
  command: nonEmpty('the program to run, e.g. psql'),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  timeout: duration().optional(),
})

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const VALUE_HINT = {A: 'an IPv4 address such as 203.0.113.10', AAAA: 'an IPv6 address such as 2001:db8::10', CNAME: 'a host name such as legacy.clpr.tv'}
function valueFits(type: 'A' | 'AAAA' | 'CNAME', v: string): boolean {
  if (type === 'A') return IPV4_RE.test(v)
  if (type === 'AAAA') return /^[0-9a-fA-F:]+$/.test(v) && v.includes(':')
  return /^([A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+\.?$/.test(v)
}

export const weightedTarget = z
  .strictObject({
    setIdentifier: nonEmpty('the SetIdentifier of this weighted record, e.g. compose').max(128),
    /** Plain record values (A: IPv4 addresses, AAAA: IPv6, CNAME: one name). */
    values: z.array(z.string().min(1)).min(1, {error: 'expected at least one record value'}).optional(),
    /** Alias target, e.g. an ALB. Alias records have no TTL of their own. */
    alias: z
      .strictObject({
        dnsName: dnsName,
        hostedZoneId: hostedZoneId,
        evaluateTargetHealth: z.boolean().default(true),
        /** Seconds resolvers keep the alias target's answer (an ELB/ALB answers with 60). */
        ttl: z.number().int().min(0).max(172800).default(60),
      })
      .optional(),
    healthCheckId: z.string().optional(),
  })
  .refine((t) => (t.values === undefined) !== (t.alias === undefined), {
    error: 'give exactly one of "values" (a plain record) or "alias" (an alias target such as an ALB)',
  })

const gate = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, {error: 'expected an id of lower-case letters, digits and dashes'})
    .optional(),
  uses: nonEmpty('a gate kind such as gate-http, gate-prometheus, gate-cloudwatch-alarms or gate-kubernetes'),
  with: z.record(z.string(), z.unknown()).default({}),
})

/** Team state: where runs, journals, reports and the audit trail live when not in the local state dir. */
const stateUrl = z
  .string({error: 'expected s3://bucket/prefix (or no "state" at all: runs stay in the local state dir)'})
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, {error: 'expected s3://bucket/prefix (or no "state" at all: runs stay in the local state dir)'})

export const environmentSchema = z.strictObject({
  description: z.string().optional(),
  /**
   * Team state: s3://bucket/prefix keeps this environment's runs, journals, reports and audit trail
   * in S3 (conditional writes), so another operator's machine can continue a run. Default: local files.
   */
  state: stateUrl.optional(),
  /** A protected environment asks before any mutation (or needs --yes). */
  protected: z.boolean().default(false),
  aws: z
    .strictObject({
      region: awsRegion,
      profile: z.string().min(1).optional(),
      /** Endpoint override, e.g. the sandbox's AWS front. */
      endpoint: httpUrl('http://127.0.0.1:4566').optional(),
      /** When set, runs refuse to mutate if the caller identity is in another account. */
      accountId: z
        .string({error: 'expected a 12-digit AWS account id in quotes, e.g. "012345678901" (unquoted, YAML reads it as a number and drops leading zeros)'})
        .regex(/^\d{12}$/, {error: 'expected a 12-digit AWS account id in quotes, e.g. "012345678901"'})
        .optional(),
    })
    .optional(),
  dns: z
    .strictObject({
      hostedZoneId: hostedZoneId,
      record: z.strictObject({
        name: dnsName,
        type: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
        ttl: z
          .number({error: 'expected the record TTL in seconds, e.g. 60'})
          .int({error: 'expected a whole number of seconds'})
          .min(0, {error: 'expected 0 or more seconds'})
          .max(172800, {error: 'expected at most 172800 seconds (2 days)'})
          .default(60),
      }),
      /** A URL that reaches the public name, for checks of what users get (default https://<record name>/). */
      probeUrl: httpUrl('https://clpr.tv/health').optional(),
      /** Preflight refuses a live TTL higher than this (a high TTL makes rollback slow). */
      maxTtl: z.number().int().min(0).max(172800).default(300),
      targets: z.strictObject({
        legacy: weightedTarget,
        kubernetes: weightedTarget,
      }),
      /** Where the one-operator lock lives: a TXT record beside the name (across machines) or a local file. */
      lock: z.enum(['route53', 'local']).default('route53'),
    })
    .superRefine((dns, ctx) => {
      const {legacy, kubernetes} = dns.targets
      if (legacy.setIdentifier === kubernetes.setIdentifier) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', 'kubernetes', 'setIdentifier'],
          message: `both targets use SetIdentifier "${legacy.setIdentifier}"; the two weighted records need different ones (e.g. compose and k8s)`,
        })
      }
      if (dns.record.ttl > dns.maxTtl) {
        ctx.addIssue({code: 'custom', path: ['record', 'ttl'], message: `${dns.record.ttl}s is above maxTtl (${dns.maxTtl}s), which preflight would refuse`})
      }
      for (const role of ['legacy', 'kubernetes'] as const) {
        const values = dns.targets[role].values ?? []
        const bad = values.find((v) => !valueFits(dns.record.type, v))
        if (bad !== undefined) {
          ctx.addIssue({code: 'custom', path: ['targets', role, 'values'], message: `"${bad}" is not a valid ${dns.record.type} record value (${VALUE_HINT[dns.record.type]})`})
        }
        if (dns.record.type === 'CNAME' && values.length > 1) ctx.addIssue({code: 'custom', path: ['targets', role, 'values'], message: 'a CNAME record has exactly one value'})
      }
    })
    .optional(),
  kubernetes: z
    .strictObject({
      cluster: z.string().min(1).optional(),
      kubeconfig: z.string().min(1).optional(),
      context: z.string().min(1).optional(),
      namespace: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {error: 'expected a Kubernetes namespace name (lower case, digits, dashes)'})
        .default('default'),
      deployments: z.array(z.string().min(1)).default([]),
      hpas: z.array(z.string().min(1)).default([]),
      healthUrl: httpUrl('https://k8s.clpr.tv/health').optional(),
    })
    .optional(),
  compose: z
    .strictObject({
      dockerHost: z
        .string()
        .regex(/^(ssh|tcp|unix|npipe):\/\//, {error: 'expected a DOCKER_HOST such as ssh://deploy@legacy.clpr.tv or unix:///var/run/docker.sock'})
        .optional(),
      file: nonEmpty('the path of the compose file'),
      project: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, {error: 'expected a compose project name (lower case, digits, dashes, underscores)'}),
      services: z.array(z.string().min(1)).default([]),
      healthUrl: httpUrl('https://legacy.clpr.tv/health').optional(),
    })
    .optional(),
  terraform: z
    .strictObject({
      /** The root module's directory (relative to this file). */
      dir: nonEmpty('the Terraform working directory'),
      varFiles: z.array(z.string().min(1)).default([]),
      /** -var name=value arguments. */
      vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, {error: 'expected a Terraform variable name'}), z.string()).default({}),
      workspace: z.string().min(1).optional(),
      /** The S3 backend: where the state and its DynamoDB lock live. Passed to terraform init, and read by verify. */
      backend: z
        .strictObject({
          bucket: nonEmpty('the state bucket'),
          key: nonEmpty('the state object key, e.g. clipper/production.tfstate'),
          region: awsRegion.optional(),
          dynamodbTable: z.string().min(1).optional(),
        })
        .optional(),
    })
    .optional(),
  helm: z
    .strictObject({
      releases: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {error: 'expected a Helm release name (lower case, digits, dashes)'}),
            /** A chart directory (relative to this file) or a reference such as oci://… or repo/chart. */
            chart: nonEmpty('a chart path or reference'),
            namespace: z.string().min(1).optional(),
            version: z.string().min(1).optional(),
            /** Values files (relative to this file), in order. */
            values: z.array(z.string().min(1)).default([]),
            timeout: duration().default('10m'),
          }),
        )
        .default([]),
    })
    .optional(),
  /**
   * What `verify --phase post` expects of the platform once provisioned. Each part given adds its
   * checks; the seeds' values are the example config's.
   */
  verify: z
    .strictObject({
      /** The VPC (by its Name tag): subnets in this many zones, a NAT gateway in each, routes. */
      vpc: z.strictObject({name: nonEmpty('the VPC Name tag'), zones: z.number().int().min(1).max(6).default(3)}).optional(),
      /** The EKS cluster (kubernetes.cluster): version, node groups with their sizes, add-ons. */
      eks: z
        .strictObject({
          version: z.string().regex(/^\d+\.\d+$/, {error: 'expected a Kubernetes minor version such as "1.29" (quoted)'}),
          nodeGroups: z.record(z.string().min(1), z.strictObject({min: z.number().int().min(0), max: z.number().int().min(1)})).default({}),
          addons: z.array(z.string().min(1)).default([]),
        })
        .optional(),
      /** The RDS instance (database.rdsInstance). */
      rds: z
        .strictObject({
          multiAz: z.boolean().default(true),
          encrypted: z.boolean().default(true),
          backupRetentionDays: z.number().int().min(0).max(35).default(7),
          /** The newest automated backup (latest restorable time) may be at most this old. */
          maxBackupAge: duration('an age').default('1h'),
        })
        .optional(),
      /** An ElastiCache replication group: available, with automatic failover. */
      redis: z.strictObject({replicationGroup: nonEmpty('a replication group id')}).optional(),
      /** S3 buckets: versioned, encrypted, public access blocked. */
      buckets: z.array(z.string().min(1)).default([]),
      /** ACM certificates by domain: issued, and valid for at least this many more days. */
      certificates: z.array(z.strictObject({domain: dnsName, minValidDays: z.number().int().min(0).default(14)})).default([]),
      /** Load balancer target groups (by name) whose targets must all be healthy. */
      targetGroups: z.array(z.string().min(1)).default([]),
      /** HPAs (by name, in kubernetes.namespace) and the min/max replicas they must have. */
      hpas: z.record(z.string().min(1), z.strictObject({min: z.number().int().min(1), max: z.number().int().min(1)})).default({}),
      /** Ingresses (by name) that must have an address. */
      ingresses: z.array(z.string().min(1)).default([]),
      /** The newest successful AWS Backup job of the vault (backup.vault) may be at most this old. */
      backupMaxAge: duration('an age').optional(),
      /** verify --phase pre: every image (repository:tag) the Helm values name must exist in ECR; false to skip. */
      images: z.boolean().default(true),
    })
    .optional(),
  database: z
    .strictObject({
      rdsInstance: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, {error: 'expected an RDS DB instance identifier'}),
      /** Name of the environment variable that holds a connection URL for checks (never the URL itself). */
      urlEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, {error: 'expected the NAME of an environment variable, e.g. CLIPPER_DATABASE_URL'})
        .optional(),
      /** Run during rollback to bring the legacy database up to date. */
      syncHook: commandSpec.optional(),
      /**
       * How `backup restore` and `dr drill` make a new instance. Passed explicitly, because left
       * out RDS restores into the default VPC, security group and parameter group; what is not
       * given here is copied from the source instance.
       */
      restore: z
        .strictObject({
          subnetGroup: z.string().min(1).optional(),
          securityGroups: z.array(z.string().regex(/^sg-[0-9a-f]+$/, {error: 'expected a security group id such as sg-0123abcd'})).optional(),
          parameterGroup: z.string().min(1).optional(),
          instanceClass: z
            .string()
            .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, {error: 'expected a DB instance class such as db.t4g.medium'})
            .optional(),
          multiAz: z.boolean().default(false),
          kmsKeyId: z.string().min(1).optional(),
          /** The IAM role AWS Backup passes when it restores a recovery point. */
          backupRole: z
            .string()
            .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, {error: 'expected an IAM role ARN'})
            .optional(),
          tags: z.record(z.string().min(1), z.string()).default({}),
        })
        .optional(),
    })
    .optional(),
  /** The DR drill: what a restored database must answer, over a real connection. */
  dr: z
    .strictObject({
      /** SQL checks: each query's first column of its first row, as a number, within min/max. */
      checks: z.array(z.strictObject({name: nonEmpty('a check name'), sql: nonEmpty('a SQL query'), min: z.number().optional(), max: z.number().optional()})).default([]),
      /** A query whose first value is the newest row's time: what the restore holds (RPO). */
      freshness: nonEmpty('a SQL query returning the newest row time'),
      /** How long a restore may take to become available and connectable. */
      timeout: duration('a timeout').default('1h'),
      /** Where each drill's result is kept: s3://bucket/prefix (shared by the team) or a directory (default <state dir>/dr-history). */
      history: z.string().min(1).optional(),
      /** verify --phase post warns when the last passing drill is older than this (the schedule, with some slack). */
      maxAge: duration('an age').optional(),
      /** The secondary region holding cross-region copies (dr drill --scope region), and the network a restore there uses. */
      region: z
        .strictObject({
          name: awsRegion,
          subnetGroup: nonEmpty('a DB subnet group in the secondary region'),
          securityGroups: z
            .array(z.string().regex(/^sg-[0-9a-f]+$/, {error: 'expected a security group id such as sg-0123abcd'}))
            .min(1, {error: 'expected at least one security group'}),
          parameterGroup: z.string().min(1).optional(),
          instanceClass: z.string().min(1).optional(),
        })
        .optional(),
    })
    .optional(),
  backup: z
    .strictObject({
      vault: nonEmpty('a backup vault name'),
      plan: z.string().min(1).optional(),
    })
    .optional(),
  slos: z
    .strictObject({
      availability: z.number().min(0).max(100).default(99.9),
      rto: duration('a recovery time objective').default('1h'),
      rpo: duration('a recovery point objective').default('15m'),
      /** The objectives for a region-wide recovery (dr drill --scope region). */
      regionRto: duration('a recovery time objective').default('4h'),
      regionRpo: duration('a recovery point objective').default('1h'),
      rollbackBudget: duration('a rollback time budget').default('30m'),
      errorRate: fraction.default(0.001),
      p95: duration('a latency').default('200ms'),
    })
    .prefault({}),
  rollout: z
    .strictObject({
      steps: z
        .array(
          z
            .number({error: 'expected a percentage from 1 to 100'})
            .int()
            .min(1, {error: 'expected a percentage from 1 to 100'})
            .max(100, {error: 'expected a percentage from 1 to 100'}),
          {
            error: 'expected a list of percentages such as [10, 50, 100]',
          },
        )
        .min(1, {error: 'expected at least one percentage, such as [10, 50, 100]'})
        .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), {error: 'expected percentages in increasing order'})
        .default([10, 50, 100]),
      bake: duration('a bake time').default('5m'),
      approval: z.boolean().default(false),
      gates: z.array(gate).default([]),
    })
    .prefault({}),
  prometheus: z.strictObject({url: httpUrl('http://prometheus.monitoring:9090')}).optional(),
  /**
   * Extra PATH entries and environment variables for the tools this environment's steps run
   * (terraform, helm, docker, the AWS shared config files of its profile). The sandbox uses it to
   * put its stand-ins first on PATH for its own environment only.
   */
  tools: z
    .strictObject({
      path: z.array(z.string().min(1)).default([]),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {error: 'expected an environment variable name'}), z.string()).default({}),
    })
    .optional(),
  cloudwatch: z.strictObject({alarms: z.array(z.string().min(1)).default([])}).optional(),
  /**
   * Where the `notify` steps of rollout and rollback tell people what happens. Webhook URLs and
   * routing keys are secrets: the config holds only the NAMES of the environment variables that
   * hold them, read when a notification is sent.
   */
  notify: z
    .strictObject({
      /** A Slack incoming webhook (its URL is bound to one channel). */
      slack: z.strictObject({webhookUrlEnv: secretEnvName('the webhook URL', 'SLACK_WEBHOOK_URL')}).optional(),
      /** PagerDuty's Events API v2: a service's integration (routing) key. */
      pagerduty: z
        .strictObject({
          routingKeyEnv: secretEnvName('the integration (routing) key', 'PAGERDUTY_ROUTING_KEY'),
          /** Where events go (default https://events.pagerduty.com/v2/enqueue; the sandbox points it at its sink). */
          url: httpUrl('https://events.pagerduty.com/v2/enqueue').optional(),
        })
        .optional(),
      /** Any endpoint that takes a JSON POST (a chat bridge, an incident tool, a status page). */
      webhook: z.strictObject({urlEnv: secretEnvName('the webhook URL', 'CLIPPER_NOTIFY_WEBHOOK_URL')}).optional(),
    })
    .refine((n) => n.slack || n.pagerduty || n.webhook, {error: 'expected at least one of slack, pagerduty or webhook (or no notify section at all)'})
    .optional(),
})

export const configSchema = z.strictObject({
  version: z.literal(1, {error: 'expected version: 1'}),
  /** Environment used when --env is not given. */
  defaultEnvironment: z.string().optional(),
  /** Team state for every environment that does not name its own (see environments.*.state). */
  state: stateUrl.optional(),
  environments: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, {error: 'expected an environment name of lower-case letters, digits, dashes'}), environmentSchema),
})

export type Config = z.output<typeof configSchema>
export type Environment = z.output<typeof environmentSchema>
export type WeightedTarget = z.output<typeof weightedTarget>
