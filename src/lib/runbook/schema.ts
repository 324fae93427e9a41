/**
 * The runbook file format: a named list of steps. A step runs a step kind (`uses`) with inputs
 * (`with`), or is a group that repeats its own steps for each item of a list (`forEach`).
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'

const ID_RE = /^[a-z0-9][a-z0-9-]*$/
/** More steps than any runbook needs: the bound keeps a run's state (one record each) small. */
export const MAX_STEPS = 1000
const stepId = z.string({error: 'expected a step id'}).regex(ID_RE, {error: 'expected an id of lower-case letters, digits and dashes, e.g. shift-traffic'})

const condition = z.union([z.string().min(1), z.boolean()], {error: 'expected a condition such as ${{ params.force }}'})

export const retrySchema = z.strictObject({
  attempts: z.number().int().min(1, {error: 'expected at least 1 attempt'}).max(20, {error: 'expected at most 20 attempts'}),
  delay: duration('a delay between attempts').default('2s'),
  backoff: z.number().min(1).max(10).default(2),
})

export interface StepSpec {
  id: string
  name?: string
  uses?: string
  with?: Record<string, unknown>
  if?: string | boolean
  ifSkipped?: string | {message: string; warning: boolean}
  timeout?: string
  retry?: z.output<typeof retrySchema>
  onFailure?: 'stop' | 'continue' | StepSpec[]
  forEach?: unknown
  as?: string
  steps?: StepSpec[]
}

export const stepSchema: z.ZodType<StepSpec> = z.lazy(() =>
  z
    .strictObject({
      id: stepId,
      name: z.string().min(1).optional(),
      uses: z.string({error: 'expected a step kind such as exec, wait, approval or http-check'}).min(1).optional(),
      with: z.record(z.string(), z.unknown(), {error: 'expected a mapping of inputs'}).optional(),
      if: condition.optional(),
      /** What to say when `if` is false (instead of "condition is false"); warning: true shows it as a warning. */
      ifSkipped: z
        .union([z.string().min(1), z.strictObject({message: z.string().min(1), warning: z.boolean().default(false)})], {
          error: 'expected what to say when the step is skipped: a sentence, or {message, warning: true}',
        })
        .optional(),
      timeout: duration('a timeout').optional(),
      retry: retrySchema.optional(),
      onFailure: z
        .union([z.enum(['stop', 'continue']), z.array(stepSchema)], {
          error: 'expected "stop", "continue", or a list of steps to run before stopping',
        })
        .optional(),
      forEach: z.unknown().optional(),
      as: z
        .string()
        .regex(/^[a-z][a-zA-Z0-9_]*$/, {error: 'expected a name such as weight'})
        .optional(),
      steps: z.array(stepSchema).min(1, {error: 'a group needs at least one step'}).optional(),
    })
    .superRefine((s, ctx) => {
      const isGroup = s.forEach !== undefined || s.steps !== undefined
      if (isGroup) {
        if (s.uses !== undefined) ctx.addIssue({code: 'custom', path: ['uses'], message: 'a group (forEach/steps) cannot also have "uses"'})
        if (s.with !== undefined) ctx.addIssue({code: 'custom', path: ['with'], message: 'a group (forEach/steps) takes no "with"; give inputs to its steps'})
        if (s.forEach === undefined) ctx.addIssue({code: 'custom', path: ['forEach'], message: 'a group needs "forEach": a list or an expression giving one'})
        if (s.steps === undefined) ctx.addIssue({code: 'custom', path: ['steps'], message: 'a group needs "steps"'})
      } else if (s.uses === undefined) {
        ctx.addIssue({code: 'custom', path: ['uses'], message: 'required field is missing: the step kind to run, e.g. uses: exec'})
      } else if (s.as !== undefined) {
        ctx.addIssue({code: 'custom', path: ['as'], message: '"as" only applies to a group with forEach'})
      }
    }),
)

const parameterSchema = z.strictObject({
  description: z.string().optional(),
  type: z.enum(['string', 'number', 'boolean', 'list', 'duration']).default('string'),
  default: z.unknown().optional(),
  required: z.boolean().default(false),
  enum: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
})

export const runbookSchema = z.strictObject({
  version: z.literal(1, {error: 'expected version: 1'}),
  name: z.string().regex(ID_RE, {error: 'expected a runbook name of lower-case letters, digits and dashes'}),
  description: z.string().optional(),
  /** required: --env must be given; optional: may be given; none: the runbook never reads env. */
  environment: z.enum(['required', 'optional', 'none']).default('optional'),
  parameters: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, {error: 'expected a parameter name such as bake or steps'}), parameterSchema).default({}),
  /** Time budget for the whole run: a duration or an expression (e.g. ${{ env.slos.rollbackBudget }}). */
  deadline: z.string().min(1).optional(),
  /** This runbook restores service: its run time is reported as the time to recovery. */
  recovery: z.boolean().default(false),
  /** What to do when the deadline passes: report loudly and go on, or stop. */
  onDeadline: z.enum(['continue', 'fail']).default('continue'),
  /**
   * The budget decides: before the run starts, its planned worst case is compared with the
   * deadline, and one that cannot fit is refused at once (unless --over-budget), offering the
   * faster path declared here (taken with --fast: these parameters instead).
   */
  budget: z
    .strictObject({
      fastPath: z
        .strictObject({
          description: z.string().min(1, {error: 'expected what the faster path gives up, e.g. "skip the verification window"'}),
          params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
        })
        .optional(),
    })
    .optional(),
  /** Shown with a failure: the command that undoes the run, e.g. clipper-ops rollback --env ${{ envName }}. */
  undo: z.string().min(1).optional(),
  /** Compensating steps for any failed step that has no onFailure of its own. */
  onFailure: z.array(stepSchema).optional(),
  steps: z
    .array(stepSchema)
    .min(1, {error: 'a runbook needs at least one step'})
    .max(MAX_STEPS, {error: `a runbook has at most ${MAX_STEPS} steps (split it, or repeat steps with forEach)`}),
})

export type Runbook = z.output<typeof runbookSchema>
export type ParameterSpec = z.output<typeof parameterSchema>
