/**
 * `rds-restore`: restore the environment's database to a NEW instance — from the latest
 * restorable time, a point in time, a snapshot, an AWS Backup recovery point, or (region-wide) the
 * newest cross-region copy — and wait until it is available. Never onto the live instance.
 * (Promoting a restore is another runbook.)
 * The request is built in ../rds/restore.ts: the point and the network always explicit.
 *
 * Crash safety: the target is tagged with the run id; a resumed run that finds its own target
 * waits for it instead of asking again, and one that finds someone else's refuses.
 */
import type {DBInstance} from '@aws-sdk/client-rds'
import {z} from 'zod'
import {awsClient} from '../aws/clients.js'
import {duration} from '../config/schema.js'
import {RunFailedError, UsageError} from '../errors.js'
import {parseDuration} from '../util/duration.js'
import {
  describeInstance,
  inRegion,
  OWNER_TAG,
  regionSettings,
  restoreRequest,
  restoreSettings,
  sendRestore,
  tagsOf,
  waitAvailable,
  waitForRestoreJob,
  type RestoreSource,
} from '../rds/restore.js'
import type {Environment} from '../config/schema.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z
  .strictObject({
    /** The instance restored from (default: database.rdsInstance). */
    source: z.string().min(1).optional(),
    /** The new instance's identifier. */
    target: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, {error: 'expected an RDS DB instance identifier (letters, digits, dashes; 63 at most)'}),
    from: z.enum(['latest', 'point-in-time', 'snapshot', 'recovery-point', 'region-copy'], {
      error: 'expected from: latest, point-in-time, snapshot, recovery-point or region-copy',
    }),
    time: z.string().min(1).optional(),
    snapshot: z.string().min(1).optional(),
    recoveryPoint: z.string().min(1).optional(),
    /** Tags beside database.restore.tags (the run's own are always added). */
    tags: z.record(z.string().min(1), z.string()).default({}),
    timeout: duration('a timeout').optional(),
    /** The longest pause between two polls: bounds how late a measured time can be. */
    pollCap: duration('a poll interval').default('10s'),
  })
  .refine((i) => i.from !== 'point-in-time' || i.time, {error: 'from: point-in-time needs time (ISO 8601)', path: ['time']})
  .refine((i) => i.from !== 'snapshot' || i.snapshot, {error: 'from: snapshot needs snapshot (its identifier)', path: ['snapshot']})
  .refine((i) => i.from !== 'recovery-point' || i.recoveryPoint, {error: 'from: recovery-point needs recoveryPoint (its ARN)', path: ['recoveryPoint']})
type Inputs = z.output<typeof inputs>

function sourceOf(i: Inputs): RestoreSource {
  if (i.from === 'point-in-time') return {from: 'point-in-time', time: i.time!}
  if (i.from === 'snapshot') return {from: 'snapshot', snapshot: i.snapshot!}
  if (i.from === 'recovery-point') return {from: 'recovery-point', recoveryPoint: i.recoveryPoint!}
  if (i.from === 'region-copy') return {from: 'region-copy'}
  return {from: 'latest'}
}

/** Where the restore happens: the environment's region, or for a region-wide recovery the secondary one. */
function regionOf(ctx: StepContext, i: Inputs) {
  const env = ctx.environment
  if (i.from !== 'region-copy') return env
  if (!env?.dr?.region) throw new UsageError('A region-wide restore needs dr.region in the environment config: the secondary region and its network.', {code: 'NO_DR_REGION'})
  return inRegion(env, env.dr.region.name)
}

/** Everything the request needs, read and checked: what would make the restore fail is found here. */
async function prepare(ctx: StepContext, i: Inputs) {
  const env = regionOf(ctx, i)
  const live = env?.database?.rdsInstance
  const sourceId = i.source ?? live
  if (!env || !sourceId) throw new UsageError('rds-restore needs database.rdsInstance in the environment config (or a source).', {code: 'NO_DATABASE'})
  if (i.target === sourceId || i.target === live)
    throw new UsageError(`The target ${i.target} is the live instance: a restore always makes a new instance (promoting one is a separate runbook).`, {code: 'TARGET_IS_LIVE'})
  const rds = await awsClient('rds', env)
  const tags = {...i.tags, [OWNER_TAG]: ctx.runId}
  let source: DBInstance
  let settings
  if (i.from === 'region-copy') {
    // A region-wide recovery must not depend on the primary region: only the copies are read.
    source = {DBInstanceIdentifier: sourceId}
    settings = regionSettings(env, tags)
  } else {
    const found = await describeInstance(rds, sourceId, ctx.signal)
    if (!found) throw new RunFailedError(`The source instance ${sourceId} does not exist.`, {code: 'NO_SOURCE'})
    source = found
    settings = restoreSettings(env, source, tags)
  }
  const problems = await networkProblems({...ctx, environment: env}, settings)
  if (problems.length) throw new RunFailedError(`The restore would fail: ${problems.join('; ')}.`, {code: 'RESTORE_PRECHECK'})
  const request = await restoreRequest({env, source, target: i.target, from: sourceOf(i), settings, idempotencyToken: `${ctx.runId}:${ctx.stepId}`}, ctx.signal)
  const role = request.api === 'StartRestoreJob' ? await roleProblem(ctx, env, request.input.IamRoleArn) : undefined
  if (role) throw new RunFailedError(`The restore would fail: ${role}.`, {code: 'RESTORE_PRECHECK'})
  return {env, rds, source, settings, request}
}

/** The subnet group, security groups and parameter group the request names must exist. */
async function networkProblems(ctx: StepContext, s: ReturnType<typeof restoreSettings>): Promise<string[]> {
  const env = ctx.environment!
  const rds = await awsClient('rds', env)
  const m = await import('@aws-sdk/client-rds')
  const problems: string[] = []
  const exists = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call()
    } catch (error) {
      problems.push(`${what} does not exist or cannot be read (${(error as {name?: string}).name ?? error})`)
      return undefined
    }
  }
  if (!s.subnetGroup) problems.push('no DB subnet group (database.restore.subnetGroup, or the source has none): RDS would restore into the default VPC')
  else await exists(`DB subnet group ${s.subnetGroup}`, () => rds.send(new m.DescribeDBSubnetGroupsCommand({DBSubnetGroupName: s.subnetGroup}), {abortSignal: ctx.signal}))
  if (s.parameterGroup)
    await exists(`DB parameter group ${s.parameterGroup}`, () =>
      rds.send(new m.DescribeDBParameterGroupsCommand({DBParameterGroupName: s.parameterGroup}), {abortSignal: ctx.signal}),
    )
  if (s.securityGroups.length) {
    const ec2 = await awsClient('ec2', env)
    const {DescribeSecurityGroupsCommand} = await import('@aws-sdk/client-ec2')
    await exists(`security group(s) ${s.securityGroups.join(', ')}`, () => ec2.send(new DescribeSecurityGroupsCommand({GroupIds: s.securityGroups}), {abortSignal: ctx.signal}))
  } else problems.push('no security group (database.restore.securityGroups, or the source has none): RDS would use the VPC default')
  if (s.kmsKeyId) {
    const kms = await awsClient('kms', env)
    const {DescribeKeyCommand} = await import('@aws-sdk/client-kms')
    const key = (await exists(`KMS key ${s.kmsKeyId}`, () => kms.send(new DescribeKeyCommand({KeyId: s.kmsKeyId}), {abortSignal: ctx.signal})))?.KeyMetadata
    if (key && key.KeyState !== 'Enabled') problems.push(`KMS key ${s.kmsKeyId} is ${key.KeyState ?? 'unknown'}, not Enabled`)
  }
  return problems
}

/** AWS Backup assumes this role to restore: it must exist (the restore job would fail minutes later). */
async function roleProblem(ctx: StepContext, env: Environment, roleArn: unknown): Promise<string | undefined> {
  if (typeof roleArn !== 'string' || !roleArn) return 'no IAM role for AWS Backup to restore with (database.restore.backupRole, or the recovery point has none)'
  const iam = await awsClient('iam', env)
  const {GetRoleCommand} = await import('@aws-sdk/client-iam')
  try {
    await iam.send(new GetRoleCommand({RoleName: roleArn.split('/').pop()!}), {abortSignal: ctx.signal})
    return undefined
  } catch (error) {
    return `the IAM role ${roleArn} that AWS Backup would pass does not exist or cannot be read (${(error as {name?: string}).name ?? error})`
  }
}

function timeoutOf(ctx: StepContext, i: Inputs): number {
  return parseDuration(i.timeout ?? ctx.environment?.dr?.timeout ?? '1h')!
}

export default defineStep({
  kind: 'rds-restore',
  description:
    'Restore the database to a new instance (latest, point in time, snapshot, AWS Backup recovery point or cross-region copy), network explicit, and wait until available',
  needs: ['aws'],
  inputs,
  mutates: () => true,
  title: (i) =>
    `Restore ${i.from === 'latest' ? 'the latest restorable time' : i.from === 'point-in-time' ? i.time : i.from === 'snapshot' ? `snapshot ${i.snapshot}` : i.from === 'region-copy' ? 'the newest cross-region copy' : 'a recovery point'} to ${i.target}`,

  async plan(ctx, i) {
    const {rds, request, settings} = await prepare(ctx, i)
    if (await describeInstance(rds, i.target, ctx.signal))
      throw new RunFailedError(`The target instance ${i.target} already exists; pick another --target.`, {code: 'TARGET_EXISTS'})
    const from = Object.entries(settings.origin).map(([k, v]) => `${k} from ${v}`)
    return {
      summary: `${request.api} → ${i.target}${request.restoreTime ? `, restoring ${request.restoreTime}` : ''} (${from.join(', ')})`,
      changes: [{action: 'create', target: `RDS instance ${i.target}`, detail: `${request.api} ${JSON.stringify(request.input)}`}],
      review: `**${request.api}** (the exact request):\n\n\`\`\`json\n${JSON.stringify(request.input, null, 2)}\n\`\`\``,
      estimateMs: 15 * 60_000,
      worstCaseMs: timeoutOf(ctx, i),
    }
  },

  async run(ctx, i) {
    const {env, rds, request, settings} = await prepare(ctx, i)
    const requestedAt = new Date().toISOString()
    const existing = await describeInstance(rds, i.target, ctx.signal)
    let restoreJobId = ctx.previous.notes.restoreJobId as string | undefined
    if (existing) {
      // Ours from an interrupted attempt: wait for it. Anyone else's: never touch it.
      if (tagsOf(existing)[OWNER_TAG] !== ctx.runId)
        throw new RunFailedError(`The target instance ${i.target} already exists and was not made by this run; pick another --target.`, {code: 'TARGET_EXISTS'})
      ctx.log(`${i.target} exists from an earlier attempt of this run; waiting for it`)
    } else if (!restoreJobId) {
      await ctx.note({request, requestedAt})
      ctx.log(`${request.api} ${JSON.stringify(request.input)}`)
      restoreJobId = (await sendRestore(env, request, ctx.signal)).restoreJobId
      if (restoreJobId) await ctx.note({restoreJobId})
    }
    const acceptedAt = new Date().toISOString()
    const wait = {timeoutMs: timeoutOf(ctx, i), capMs: parseDuration(i.pollCap)!, signal: ctx.signal, log: ctx.log}
    if (restoreJobId) {
      const arn = await waitForRestoreJob(env, restoreJobId, wait)
      // AWS Backup's restore metadata carries no tags: mark the instance as this run's now.
      const {AddTagsToResourceCommand} = await import('@aws-sdk/client-rds')
      if (arn)
        await rds.send(new AddTagsToResourceCommand({ResourceName: arn, Tags: Object.entries(settings.tags).map(([Key, Value]) => ({Key, Value}))}), {abortSignal: ctx.signal})
    }
    const db = await waitAvailable(env, i.target, wait)
    const availableAt = new Date().toISOString()
    return {
      summary: `${i.target} available at ${db.Endpoint!.Address}:${db.Endpoint!.Port}${env.aws!.region !== ctx.environment?.aws?.region ? ` in ${env.aws!.region}` : ''}${request.restoreTime ? `, restored to ${request.restoreTime}` : ''}`,
      outputs: {
        instance: i.target,
        region: env.aws!.region,
        host: db.Endpoint!.Address,
        port: db.Endpoint!.Port,
        restoreTime: request.restoreTime,
        api: request.api,
        request: request.input,
        settings,
        restoreJobId,
        requestedAt: (ctx.previous.notes.requestedAt as string | undefined) ?? requestedAt,
        acceptedAt,
        availableAt,
      },
      changes: [{action: 'create', target: `RDS instance ${i.target}`, detail: request.api}],
    }
  },

  async reconcile(ctx, i) {
    const rds = await awsClient('rds', regionOf(ctx, i))
    const db = await describeInstance(rds, i.target, ctx.signal)
    if (db && tagsOf(db)[OWNER_TAG] !== ctx.runId) return {unknown: `${i.target} exists but is not tagged as made by this run`}
    // Not there (never sent) or ours (sent): run() sends or waits accordingly.
    return {done: false}
  },
})
