/**
 * `terraform`: init, plan and apply with the real binary, the way a reviewed change is applied:
 * `plan -out` to a file in the run's directory (`-detailed-exitcode`: 0 no changes, 2 changes),
 * a review read from `terraform show -json` (replacements and deletions called out loudly), and
 * `apply` of exactly that saved plan — never a fresh one. A stale saved plan and a held state
 * lock are refused in plain words (see ../terraform/cli.ts); the lock is never broken.
 *
 * A dry run plans with -lock=false (a lock is a write to the lock table) into the dry run's
 * artifacts directory, so that `--save-plan` keeps the plan file and `--plan` applies it.
 */
import {copyFile, mkdir, mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {RunFailedError} from '../errors.js'
import {findProcessesWithEnv, STEP_TOKEN_ENV, waitForExit} from '../exec/run-tool.js'
import {sha256File} from '../util/files.js'
import {backendArgs, terraform, terraformConfig, terraformFailure, varArgs} from '../terraform/cli.js'
import {reviewChanges, reviewMarkdown, reviewPlan, reviewSummary, type PlanJson, type PlanReview} from '../terraform/review.js'
import {createHash} from 'node:crypto'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  action: z.enum(['init', 'plan', 'apply'], {error: 'expected an action: init, plan or apply'}),
  /** apply: the saved plan to apply (the plan step's outputs.planFile). */
  planFile: z.string().min(1).optional(),
  /** apply: the plan file's sha256 as reviewed; a different file is refused. */
  planSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** How long to wait for a state lock held by someone else before saying who holds it. */
  lockTimeout: duration('a lock timeout').default('0s'),
})
type Inputs = z.output<typeof inputs>

const PLAN_FILE = 'terraform.tfplan'

async function init(ctx: StepContext): Promise<void> {
  const env = ctx.environment!
  const r = await terraform(ctx, ['init', '-input=false', '-no-color', '-reconfigure', ...backendArgs(env)], {stream: true})
  if (r.exitCode !== 0) throw terraformFailure(r, ctx, 'init')
}

/** Read a plan file as JSON and review it. */
async function show(ctx: StepContext, planFile: string): Promise<{review: PlanReview; json: PlanJson}> {
  const r = await terraform(ctx, ['show', '-json', '-no-color', planFile], {timeoutMs: 300_000})
  if (r.exitCode !== 0) throw terraformFailure(r, ctx, 'show')
  const json = JSON.parse(r.stdout) as PlanJson
  return {review: reviewPlan(json), json}
}

/** What a plan read of the world: its changes, address by address (the dry run's fingerprint). */
function observedOf(json: PlanJson): string {
  const changes = (json.resource_changes ?? []).map((rc) => [rc.address, rc.change.actions, rc.change.before ?? null, rc.change.after ?? null])
  return createHash('sha256').update(JSON.stringify(changes)).digest('hex')
}

async function makePlan(ctx: StepContext, i: Inputs, out: string, o: {lock: boolean}): Promise<void> {
  const tf = terraformConfig(ctx.environment)
  const args = ['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${out}`, ...(o.lock ? [`-lock-timeout=${i.lockTimeout}`] : ['-lock=false']), ...varArgs(tf)]
  const r = await terraform(ctx, args, {stream: true})
  // -detailed-exitcode: 0 no changes, 2 changes, 1 an error.
  if (r.exitCode !== 0 && r.exitCode !== 2) throw terraformFailure(r, ctx, 'plan')
}

function planOutputs(planFile: string, sha256: string, review: PlanReview) {
  const {add, change, replace, destroy} = review
  return {planFile, planSha256: sha256, add, change, replace, destroy, hasChanges: review.resources.length > 0, summary: reviewSummary(review)}
}

export default defineStep({
  kind: 'terraform',
  description: 'Terraform init, plan to a saved file with a review (replacements and deletions called out), and apply of exactly that plan',
  needs: ['aws'],
  inputs,
  mutates: (i) => (i as Inputs).action === 'apply',
  title: (i) => `terraform ${i.action}`,

  async plan(ctx, i) {
    const tf = terraformConfig(ctx.environment)
    if (i.action === 'init') {
      await init(ctx)
      return {summary: `initialized ${tf.dir}${tf.backend ? ` (state s3://${tf.backend.bucket}/${tf.backend.key})` : ''}`, changes: [{action: 'none', target: 'terraform init'}]}
    }
    if (i.action === 'plan') {
      const dir = ctx.artifactsDir ?? (await mkdtemp(join(tmpdir(), 'clipper-ops-tfplan-')))
      await mkdir(dir, {recursive: true})
      const planFile = join(dir, PLAN_FILE)
      await makePlan(ctx, i, planFile, {lock: false})
      const {review, json} = await show(ctx, planFile)
      const sha = await sha256File(planFile)
      return {
        summary: reviewSummary(review),
        changes: review.resources.length ? reviewChanges(review) : [{action: 'none', target: tf.dir, detail: 'no changes'}],
        observed: {terraform: observedOf(json)},
        outputs: planOutputs(planFile, sha, review),
        review: reviewMarkdown(review),
        artifacts: {planFile},
        estimateMs: 30_000,
        worstCaseMs: 300_000,
      }
    }
    // apply, in a dry run: what the plan step above will apply.
    if (!i.planFile) return {summary: 'would apply the saved plan of the plan step', changes: [{action: 'run', target: 'terraform apply <saved plan>'}]}
    const {review} = await show(ctx, i.planFile)
    return {
      summary: review.resources.length ? `would apply the saved plan: ${reviewSummary(review)}` : 'nothing to apply',
      changes: [{action: review.resources.length ? 'run' : 'none', target: `terraform apply ${PLAN_FILE}`, detail: reviewSummary(review)}],
      estimateMs: 10 * 60_000,
      worstCaseMs: 60 * 60_000,
    }
  },

  async run(ctx, i) {
    const tf = terraformConfig(ctx.environment)
    if (i.action === 'init') {
      await init(ctx)
      return {summary: `initialized${tf.backend ? ` (state s3://${tf.backend.bucket}/${tf.backend.key})` : ''}`}
    }
    if (i.action === 'plan') {
      const planFile = join(ctx.runDir, PLAN_FILE)
      if (ctx.saved?.planFile) {
        // --plan: the reviewed plan file, not a new one (terraform refuses it if the state moved).
        await copyFile(ctx.saved.planFile, planFile)
        ctx.log(`using the reviewed plan ${ctx.saved.planFile}`)
      } else await makePlan(ctx, i, planFile, {lock: true})
      const {review} = await show(ctx, planFile)
      const sha = await sha256File(planFile)
      return {
        summary: `${ctx.saved?.planFile ? 'the reviewed plan: ' : ''}${reviewSummary(review)}`,
        outputs: planOutputs(planFile, sha, review),
        changes: [{action: 'check', target: tf.dir, detail: reviewSummary(review)}],
      }
    }
    if (!i.planFile) throw new RunFailedError("terraform apply needs planFile: the plan step's outputs.planFile (clipper-ops never applies a fresh plan).", {code: 'BAD_INPUT'})
    if (i.planSha256 && (await sha256File(i.planFile)) !== i.planSha256) {
      throw new RunFailedError(`The plan file ${i.planFile} is not the one that was reviewed (its sha256 changed). Nothing was applied.`, {code: 'TF_PLAN_CHANGED'})
    }
    const {review} = await show(ctx, i.planFile)
    const r = await terraform(ctx, ['apply', '-input=false', '-no-color', `-lock-timeout=${i.lockTimeout}`, i.planFile], {stream: true})
    if (r.exitCode !== 0) throw terraformFailure(r, ctx, 'apply')
    const out = await terraform(ctx, ['output', '-json', '-no-color'])
    const outputs: Record<string, unknown> = {}
    if (out.exitCode === 0) {
      for (const [k, v] of Object.entries(JSON.parse(out.stdout || '{}') as Record<string, {value: unknown; sensitive?: boolean}>))
        outputs[k] = v.sensitive ? '(sensitive)' : v.value
    }
    return {summary: `applied: ${reviewSummary(review)}`, outputs: {terraform: outputs}, changes: reviewChanges(review)}
  },

  async reconcile(ctx, i) {
    if (i.action !== 'apply') return {done: false}
    // A terraform left running by a dead run holds the lock and may still be applying: let it end.
    for (const pid of await findProcessesWithEnv(STEP_TOKEN_ENV, `${ctx.runId}:${ctx.stepId}`)) {
      ctx.log(`terraform from the interrupted attempt is still running (pid ${pid}); waiting for it to finish`)
      if (!(await waitForExit(pid, undefined, 3_600_000, ctx.signal))) return {unknown: `terraform of the interrupted attempt (pid ${pid}) is still running`}
    }
    // Plan again, read-only: nothing left to change means the apply went through; the very changes
    // of the saved plan mean it never started (apply it); anything else, it stopped part-way.
    const dir = await mkdtemp(join(tmpdir(), 'clipper-ops-tfcheck-'))
    await makePlan(ctx, i, join(dir, PLAN_FILE), {lock: true})
    const now = await show(ctx, join(dir, PLAN_FILE))
    if (now.review.resources.length === 0) return {done: true, summary: 'applied (the infrastructure matches the configuration)'}
    if (i.planFile) {
      const saved = await show(ctx, i.planFile)
      if (JSON.stringify(saved.review.resources) === JSON.stringify(now.review.resources)) return {done: false}
    }
    return {
      unknown: `the apply stopped part-way: ${reviewSummary(now.review)} remain. Review a new plan (clipper-ops provision --env ${ctx.envName} --dry-run) and run provision again`,
    }
  },
})
