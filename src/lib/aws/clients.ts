/**
 * AWS SDK v3 clients for an environment: its region, profile (or the standard credential chain)
 * and endpoint override, with timeouts and retries. Each client module is imported on first
 * use only, so commands that never call AWS never load the SDK.
 */
import type {Environment} from '../config/schema.js'
import {UsageError} from '../errors.js'

export type AwsService = 'route53' | 'rds' | 'eks' | 'backup' | 'cloudwatch' | 'sts' | 'ec2' | 'elasticache' | 's3' | 'acm' | 'ecr' | 'elbv2' | 'dynamodb' | 'kms' | 'iam'

const LOADERS = {
  route53: async () => (await import('@aws-sdk/client-route-53')).Route53Client,
  rds: async () => (await import('@aws-sdk/client-rds')).RDSClient,
  eks: async () => (await import('@aws-sdk/client-eks')).EKSClient,
  backup: async () => (await import('@aws-sdk/client-backup')).BackupClient,
  cloudwatch: async () => (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient,
  sts: async () => (await import('@aws-sdk/client-sts')).STSClient,
  ec2: async () => (await import('@aws-sdk/client-ec2')).EC2Client,
  elasticache: async () => (await import('@aws-sdk/client-elasticache')).ElastiCacheClient,
  // Emulators answer on one endpoint: buckets must be in the path, not the host name.
  s3: async () => (await import('@aws-sdk/client-s3')).S3Client,
  acm: async () => (await import('@aws-sdk/client-acm')).ACMClient,
  ecr: async () => (await import('@aws-sdk/client-ecr')).ECRClient,
  elbv2: async () => (await import('@aws-sdk/client-elastic-load-balancing-v2')).ElasticLoadBalancingV2Client,
  dynamodb: async () => (await import('@aws-sdk/client-dynamodb')).DynamoDBClient,
  kms: async () => (await import('@aws-sdk/client-kms')).KMSClient,
  iam: async () => (await import('@aws-sdk/client-iam')).IAMClient,
}

type ClientOf<S extends AwsService> = InstanceType<Awaited<ReturnType<(typeof LOADERS)[S]>>>

export interface AwsClientOptions {
  /** SDK-level attempts (standard mode: Throttling, PriorRequestNotComplete, 5xx, timeouts). */
  maxAttempts?: number
}

const cache = new Map<string, unknown>()

function awsSection(env: Environment | undefined): NonNullable<Environment['aws']> {
  if (!env?.aws) throw new UsageError('This environment has no "aws" section in clipper-ops.yaml (region, and optionally profile or endpoint).', {code: 'NO_AWS'})
  return env.aws
}

export async function awsClient<S extends AwsService>(service: S, env: Environment | undefined, opts: AwsClientOptions = {}): Promise<ClientOf<S>> {
  const aws = awsSection(env)
  const key = JSON.stringify([service, aws, env?.tools?.env ?? {}, opts])
  const hit = cache.get(key)
  if (hit) return hit as ClientOf<S>
  const Client = await LOADERS[service]()
  const client = new (Client as any)({
    region: aws.region,
    endpoint: aws.endpoint,
    maxAttempts: opts.maxAttempts ?? 5,
    ...(service === 's3' && aws.endpoint ? {forcePathStyle: true} : {}),
    retryMode: 'standard',
    requestHandler: {connectionTimeout: 5_000, requestTimeout: 30_000},
    credentials: credentialsFor(env),
  })
  cache.set(key, client)
  return client as ClientOf<S>
}

/** Where an environment's credentials come from, in words (for messages and the audit trail). */
export function credentialSource(env: Environment | undefined): string {
  const profile = env?.aws?.profile ?? env?.tools?.env?.AWS_PROFILE
  return profile
    ? `profile "${profile}"${env?.aws?.profile ? ' (aws.profile in clipper-ops.yaml)' : ''}`
    : 'the standard credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, web identity, instance or task role)'
}

type Provider = () => Promise<{accessKeyId: string; secretAccessKey: string; expiration?: Date}>
const providers = new Map<string, Provider>()

/**
 * One credential provider per environment, resolved once and shared by all its clients (not once
 * per client). A configured profile is used explicitly: keys in the environment do not compete with
 * it, so the SDK has no "multiple credential sources" to warn about.
 */
function credentialsFor(env: Environment | undefined): Provider {
  const toolsEnv = env?.tools?.env ?? {}
  const profile = env?.aws?.profile ?? toolsEnv.AWS_PROFILE
  const key = JSON.stringify([profile, toolsEnv.AWS_SHARED_CREDENTIALS_FILE, toolsEnv.AWS_CONFIG_FILE])
  const hit = providers.get(key)
  if (hit) return hit
  let current: Promise<Awaited<ReturnType<Provider>>> | undefined
  const provider: Provider = async () => {
    const c = await current
    // Refresh five minutes before expiry (temporary credentials: SSO, roles); keep static ones.
    if (!current || (c?.expiration && c.expiration.getTime() - Date.now() < 5 * 60_000)) {
      current = (async () => {
        const {fromIni, fromNodeProviderChain} = await import('@aws-sdk/credential-providers')
        const files = {filepath: toolsEnv.AWS_SHARED_CREDENTIALS_FILE, configFilepath: toolsEnv.AWS_CONFIG_FILE}
        return (profile ? fromIni({profile, ...files}) : fromNodeProviderChain(files))()
      })()
      current.catch(() => (current = undefined)) // a failure is retried on the next call
    }
    return current
  }
  providers.set(key, provider)
  return provider
}

/** The caller identity, for the audit trail ("who": an ARN). */
export async function callerIdentity(env: Environment | undefined): Promise<{arn: string; account: string} | undefined> {
  if (!env?.aws) return undefined
  const sts = await awsClient('sts', env, {maxAttempts: 2})
  const {GetCallerIdentityCommand} = await import('@aws-sdk/client-sts')
  const r = await sts.send(new GetCallerIdentityCommand({}), {abortSignal: AbortSignal.timeout(10_000)})
  return r.Arn && r.Account ? {arn: r.Arn, account: r.Account} : undefined
}

/** Names an AWS error so a message can say what happened: "Throttling (HTTP 400)". */
export function awsErrorName(error: unknown): string {
  const e = error as {name?: string; Code?: string; $metadata?: {httpStatusCode?: number}}
  const status = e.$metadata?.httpStatusCode
  return `${e.name ?? e.Code ?? 'Error'}${status ? ` (HTTP ${status})` : ''}`
}
