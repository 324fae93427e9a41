/**
 * A hand-built StepContext for calling a step kind's plan/run directly (the fields of the
 * planner's planContext), with the log lines and notes kept for assertions.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {environmentSchema, type Environment} from '../../src/lib/config/schema.js'
import {loadKind} from '../../src/lib/steps/registry.js'
import type {StepContext, StepKind} from '../../src/lib/steps/types.js'
import {Redactor} from '../../src/lib/util/redact.js'

export interface TestContext extends StepContext {
  logs: string[]
  notes: Record<string, unknown>[]
}

/** `environment` is parsed with the config schema, so defaults (SLOs, namespace) are filled in as in a real run. */
export function makeContext(opts: {environment?: Record<string, unknown>; signal?: AbortSignal; stepId?: string; dryRun?: boolean} = {}): TestContext {
  const dir = mkdtempSync(join(tmpdir(), 'step-ctx-'))
  const redactor = new Redactor({})
  const environment: Environment | undefined = opts.environment ? environmentSchema.parse(opts.environment) : undefined
  const logs: string[] = []
  const notes: Record<string, unknown>[] = []
  return {
    runId: 'test-run',
    stepId: opts.stepId ?? 'gate',
    envName: environment ? 'test' : undefined,
    environment,
    dryRun: opts.dryRun ?? false,
    signal: opts.signal ?? AbortSignal.timeout(60_000),
    prompt: {
      interactive: false,
      yes: false,
      confirm: async () => {
        throw new Error('a test never asks')
      },
    },
    run: {runbook: 'test', step: () => undefined, lastOfKind: () => undefined},
    runDir: dir,
    stateDir: dir,
    log: (line) => logs.push(redactor.text(line)),
    fence: async () => undefined, // no lease in step tests: the engine's fencing is tested end to end
    fenced: (send) => send(undefined),
    note: async (detail) => {
      notes.push(detail)
    },
    previous: {notes: {}, attempts: 0},
    remainingMs: () => undefined,
    secret: (v) => redactor.add(v),
    redact: (t) => redactor.text(t),
    childEnv: {...process.env},
    projected: new Map(),
    audit: () => undefined,
    kinds: {load: loadKind},
    logs,
    notes,
  }
}

/** A kind from the registry, with its inputs parsed the way the engine does (defaults applied). */
export async function kindWith(kind: string, raw: Record<string, unknown>): Promise<{kind: StepKind; inputs: any}> {
  const k = await loadKind(kind)
  const parsed = k.inputs.safeParse(raw)
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; '))
  return {kind: k, inputs: parsed.data}
}

/** Runs a kind and returns what it threw (for failure assertions); fails the test if it passed. */
export async function runFails(kind: StepKind, ctx: StepContext, inputs: unknown): Promise<Error & {code?: string; details?: any}> {
  try {
    await kind.run(ctx, inputs)
  } catch (error) {
    return error as Error & {code?: string; details?: any}
  }
  throw new Error(`${kind.kind} passed, but the test expected it to fail`)
}
