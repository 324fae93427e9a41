/**
 * What a step kind is. One module per kind under src/lib/steps/, registered in ./registry.ts.
 *
 * A kind can plan (read the world, no side effects) and run (idempotent: read first, act only
 * when the world is not yet as wanted). After a crash, a step that recorded its intent but not
 * its result is *in doubt*; the engine then asks the kind to reconcile: read the world again and
 * say whether the effect is in place. The default reconcile re-plans and treats "no changes" as done.
 */
import type {z} from 'zod'
import type {Environment} from '../config/schema.js'
import type {LeaseInBatch} from '../engine/lock.js'

/** One change a step would make (dry run) or made (run). */
export interface Change {
  action: 'create' | 'update' | 'delete' | 'run' | 'wait' | 'ask' | 'check' | 'none'
  /** What is changed: a record, a command line, a URL. */
  target: string
  before?: unknown
  after?: unknown
  detail?: string
}

/** Whether a change changed the world: not a read, a wait, a question, or nothing to do. */
export function changesWorld(c: Change): boolean {
  return c.action !== 'none' && c.action !== 'check' && c.action !== 'wait' && c.action !== 'ask'
}

/** Whether a step with these inputs changes the world; a kind that cannot tell (inputs known only at run time) is taken to. */
export function kindMutates(kind: Pick<StepKind, 'mutates'>, inputs: unknown): boolean {
  try {
    return kind.mutates(inputs)
  } catch {
    return true
  }
}

export interface StepPlan<O = Record<string, unknown>> {
  /** One line for people. */
  summary: string
  changes: Change[]
  /** Live state the plan was computed from; its hash makes the plan's fingerprint. */
  observed?: unknown
  /** Outputs the step will have, as far as they can be known beforehand (used by later steps' plans). */
  outputs?: Partial<O>
  /** How long the step is expected to take, and at worst. */
  estimateMs?: number
  worstCaseMs?: number
  /** Extra text for a change review (Markdown). */
  review?: string
  /**
   * Files the reviewed change is made of (a Terraform plan file, rendered manifests), by name,
   * kept in ctx.artifactsDir: with --save-plan they are saved beside the plan, and a run with
   * --plan hands them back to this step (ctx.saved) to apply exactly them.
   */
  artifacts?: Record<string, string>
}

export interface StepResult<O = Record<string, unknown>> {
  outputs?: O
  changes?: Change[]
  summary?: string
}

/**
 * A step settled after an interruption. `changes`: what the interrupted attempt did change, as
 * found in the world (a shift that went through before the process died is still a change made).
 */
export type Reconciled<O = Record<string, unknown>> = {done: true; outputs?: O; summary?: string; changes?: Change[]} | {done: false} | {unknown: string}

/** A step of the run as recorded: its status, result and the facts it noted. */
export interface RunStepView {
  id: string
  kind: string
  status: string
  summary?: string
  error?: {message: string; code?: string}
  outputs?: Record<string, unknown>
  notes: Record<string, unknown>
}

export interface PromptApi {
  /** True when a person can be asked (TTY and not --no-input). */
  readonly interactive: boolean
  /** --yes was given: every confirmation is answered yes. */
  readonly yes: boolean
  confirm(message: string, opts?: {default?: boolean; timeoutMs?: number}): Promise<boolean>
}

export interface AwsAccess {
  region: string
  profile?: string
  endpoint?: string
}

export interface StepContext {
  runId: string
  stepId: string
  envName?: string
  environment?: Environment
  dryRun: boolean
  signal: AbortSignal
  prompt: PromptApi
  /**
   * The run this step is part of, as its journal records it (redacted: fine to show or send):
   * its runbook's name and its steps' results — what a notification reports as evidence.
   */
  run: {
    runbook: string
    step(id: string): RunStepView | undefined
    /**
     * Where this run last left what steps of this kind change: its last one that succeeded (none for
     * a compensating step) — or, of `alsoKinds`, a later one that read the same thing (a preflight).
     */
    lastOfKind(alsoKinds?: string[]): RunStepView | undefined
  }
  /** Directory of this run's state (for step scratch files). */
  runDir: string
  stateDir: string
  /** A line of progress for the operator (task output); secrets are redacted. */
  log(line: string): void
  /**
   * Prove the run still holds its lease, right before a change (the engine also does before every
   * step that changes the world). Throws when it does not: the run stops without acting.
   */
  fence(): Promise<void>
  /**
   * Send a change holding the lease: proved right before, and — where the lock lives beside the
   * change (Route 53, same zone) — `lease` holds the changes that renew it, to send in the same
   * batch, so a lease lost meanwhile makes the batch fail whole. Without a lock, `lease` is undefined.
   */
  fenced<T>(send: (lease: LeaseInBatch | undefined) => Promise<T>): Promise<T>
  /** Record a fact in the journal now (e.g. a change id, a child pid) so a resume can use it. */
  note(detail: Record<string, unknown>): Promise<void>
  /** Details noted by an earlier, interrupted attempt of this step (empty on a first attempt). */
  previous: {notes: Record<string, unknown>; startedAt?: string; attempts: number}
  /** Time left before the run's deadline, if it has one. */
  remainingMs(): number | undefined
  /** Values that must never reach logs, state or reports. */
  secret(value: string): void
  redact(text: string): string
  /** Environment for child processes (the sandbox adds its tool stand-ins here). */
  childEnv: NodeJS.ProcessEnv
  /**
   * Dry runs: the world as earlier steps' plans leave it (e.g. DNS weights after the previous
   * shift), so that a later step plans against that rather than today's live state.
   */
  projected: Map<string, unknown>
  /** Add an entry to the environment's audit trail (approvals, shifts). */
  audit(action: string, detail: Record<string, unknown>): void
  /** Dry runs: the directory where this step keeps its artifacts (see StepPlan.artifacts). */
  artifactsDir?: string
  /** Runs with --plan: the artifacts the reviewed plan saved for this step, by name (absolute paths). */
  saved?: Record<string, string>
  /** The step kinds, for a composite kind (gates) that runs others. */
  kinds: {load(kind: string): Promise<StepKind>}
}

/** What a kind needs from its surroundings: AWS credentials (checked before the run), a cluster. */
export type StepNeed = 'aws' | 'kubernetes'

export interface StepKind<I = any, O extends Record<string, unknown> = Record<string, unknown>> {
  kind: string
  /** One line for `runbook list` and docs. */
  description: string
  /** AWS: a run using this kind checks who the caller is before its first step (and refuses another account). */
  needs?: StepNeed[]
  inputs: z.ZodType<I>
  /** Whether running it changes the world (protected environments ask before such runs). */
  mutates(inputs: I): boolean
  plan(ctx: StepContext, inputs: I): Promise<StepPlan<O>>
  run(ctx: StepContext, inputs: I): Promise<StepResult<O>>
  reconcile?(ctx: StepContext, inputs: I): Promise<Reconciled<O>>
  /**
   * Load what run() needs (a heavy client such as @kubernetes/client-node) before any clock
   * starts, so that steps measuring latency alongside it (gates baking together) are not slowed
   * by an import that blocks the event loop.
   */
  warmup?(ctx: StepContext, inputs: I): Promise<void>
  /** Title shown while running, from resolved inputs. */
  title?(inputs: I): string
  /**
   * On resume, before any step: is the world where this run's steps of this kind left it? `done`
   * are their records in run order (outputs, notes, inputs). Returns what moved, in words, or
   * undefined. A run never resumes over a world someone else has moved.
   */
  checkUnmoved?(
    ctx: StepContext,
    done: {id: string; status: string; inputs?: unknown; outputs?: Record<string, unknown>; notes: Record<string, unknown>}[],
  ): Promise<string | undefined>
  /**
   * The part of the world this kind changes, read back live when a run that used it ends —
   * however it ends (succeeded, failed, interrupted): every ending says where the world is.
   */
  readBack?(ctx: StepContext): Promise<WorldReading>
}

/** What a run's ending reads of the world, for people (summary) and machines (data). */
export interface WorldReading {
  /** e.g. "traffic now: legacy 50 / kubernetes 50" */
  summary: string
  data?: Record<string, unknown>
}

/** Typing help for a kind's module: inputs are inferred from its schema. */
export function defineStep<I>(kind: StepKind<I>): StepKind<I> {
  return kind
}
