/**
 * Driving the real terraform binary: argument arrays through execa (never a shell string),
 * output streamed line by line, and the two failures an operator must be able to read at 3 a.m.
 * turned into plain words — a state lock held by someone else (who, since when, and the exact
 * force-unlock command; never broken by us), and a saved plan that the state has moved past.
 *
 * Terraform's own data (.terraform/, providers, the backend's cache) goes to a directory per
 * environment under the state dir (TF_DATA_DIR), so the module directory stays as git has it.
 */
import {join} from 'node:path'
import type {Environment} from '../config/schema.js'
import {OpsError, RunFailedError, UsageError} from '../errors.js'
import {runTool, STEP_TOKEN_ENV, type ToolResult} from '../exec/run-tool.js'
import type {StepContext} from '../steps/types.js'

export type TerraformConfig = NonNullable<Environment['terraform']>

export function terraformConfig(env: Environment | undefined): TerraformConfig {
  if (!env?.terraform) throw new UsageError('This environment has no "terraform" section in clipper-ops.yaml (dir, varFiles, backend).', {code: 'NO_TERRAFORM'})
  return env.terraform
}

/** Where terraform keeps its working data for an environment: outside the module directory. */
export function terraformDataDir(ctx: Pick<StepContext, 'stateDir' | 'envName'>): string {
  return join(ctx.stateDir, 'terraform', ctx.envName ?? 'default')
}

export function terraformEnv(ctx: StepContext): NodeJS.ProcessEnv {
  const tf = terraformConfig(ctx.environment)
  return {
    ...ctx.childEnv,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_DATA_DIR: terraformDataDir(ctx),
    // Marks terraform's process, so that a resumed run finds it still running after a crash.
    [STEP_TOKEN_ENV]: `${ctx.runId}:${ctx.stepId}`,
    ...(tf.workspace ? {TF_WORKSPACE: tf.workspace} : {}),
  }
}

/** -backend-config arguments for init: the S3 state and its lock table, as the config declares them. */
export function backendArgs(env: Environment): string[] {
  const b = env.terraform?.backend
  if (!b) return []
  const args = [`-backend-config=bucket=${b.bucket}`, `-backend-config=key=${b.key}`, `-backend-config=region=${b.region ?? env.aws?.region ?? 'us-east-1'}`]
  if (b.dynamodbTable) args.push(`-backend-config=dynamodb_table=${b.dynamodbTable}`)
  // An emulator (the sandbox, LocalStack) answers on one endpoint and only with path-style URLs.
  if (env.aws?.endpoint) {
    args.push(`-backend-config=endpoints={s3="${env.aws.endpoint}",dynamodb="${env.aws.endpoint}",sts="${env.aws.endpoint}",iam="${env.aws.endpoint}"}`)
    for (const flag of ['use_path_style', 'skip_credentials_validation', 'skip_requesting_account_id', 'skip_metadata_api_check', 'skip_region_validation', 'skip_s3_checksum']) {
      args.push(`-backend-config=${flag}=true`)
    }
  }
  return args
}

/** -var-file and -var arguments for plan. */
export function varArgs(tf: TerraformConfig): string[] {
  return [...tf.varFiles.map((f) => `-var-file=${f}`), ...Object.entries(tf.vars).map(([k, v]) => `-var=${k}=${v}`)]
}

export async function terraform(ctx: StepContext, args: string[], o: {stream?: boolean; timeoutMs?: number} = {}): Promise<ToolResult> {
  const tf = terraformConfig(ctx.environment)
  const r = await runTool({
    command: 'terraform',
    args: ['-chdir=' + tf.dir, ...args],
    env: terraformEnv(ctx),
    signal: ctx.signal,
    timeoutMs: o.timeoutMs ?? 3_600_000,
    onLine: o.stream ? (line) => ctx.log(line) : undefined,
    redactor: {text: ctx.redact} as never,
  })
  if (r.spawnError) throw new RunFailedError(`terraform could not start (${r.spawnError}). Install Terraform 1.5 or newer and put it on PATH.`, {code: 'NO_TERRAFORM_BINARY'})
  if (r.cancelled && ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled')
  return r
}

export interface HeldStateLock {
  id: string
  path?: string
  operation?: string
  who?: string
  version?: string
  created?: string
}

/** Terraform's "Error acquiring the state lock" block, read into its fields. */
export function parseLockError(output: string): HeldStateLock | undefined {
  if (!/Error acquiring the state lock/i.test(output)) return undefined
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(.+)$`, 'm').exec(output)?.[1]?.trim()
  const id = field('ID')
  if (!id) return undefined
  return {id, path: field('Path'), operation: field('Operation'), who: field('Who'), version: field('Version'), created: field('Created')}
}

/** The error for a lock someone else holds: who, since when, and the command to break it (which we never run). */
export function lockHeldError(lock: HeldStateLock, tf: TerraformConfig): OpsError {
  const since = lock.created ? ` since ${lock.created}` : ''
  return new RunFailedError(
    `The Terraform state is locked by ${lock.who ?? 'someone'}${since} (lock ID ${lock.id}${lock.operation ? `, ${lock.operation}` : ''}${lock.path ? `, ${lock.path}` : ''}). ` +
      'clipper-ops never breaks a state lock. Wait for that operation to finish; if you are sure it is dead, break the lock yourself with:\n' +
      `  terraform -chdir=${tf.dir} force-unlock ${lock.id}`,
    {code: 'TF_STATE_LOCKED', details: lock},
  )
}

export function isStalePlan(output: string): boolean {
  return /Saved plan is stale/i.test(output)
}

/** A failed terraform command as an error: the lock and the stale plan in plain words, else its last lines. */
export function terraformFailure(r: ToolResult, ctx: StepContext, what: string): OpsError {
  const out = `${r.stdout}\n${r.stderr}`
  const lock = parseLockError(out)
  if (lock) return lockHeldError(lock, terraformConfig(ctx.environment))
  if (isStalePlan(out)) {
    return new RunFailedError(
      `The saved Terraform plan is stale: the state changed after it was made (someone applied since), so Terraform refused it and nothing was applied. Make and review a new plan: clipper-ops provision --env ${ctx.envName} --dry-run`,
      {code: 'TF_PLAN_STALE'},
    )
  }
  const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-12).join('\n')
  return new RunFailedError(`terraform ${what} failed (exit ${r.exitCode}):\n${tail}`, {code: 'TF_FAILED'})
}
