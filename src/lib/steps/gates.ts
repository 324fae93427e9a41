/**
 * `gates`: run a list of gates (the shape of `rollout.gates` in clipper-ops.yaml) at the same
 * time, over one shared bake `duration`, and pass only if every one passes.
 *
 * Each gate's `with` is checked against its kind's schema before anything runs, so a typo fails
 * at once and names the gate. Only read-only kinds may be gates. When one gate fails, the others
 * are stopped (`failFast`, the default): the verdict is already "fail", and during a rollout every
 * minute spent baking a bad release is a minute of users on it. Stopped gates are reported as
 * no-data with `stopped: true`. Every result — pass, fail, no data — is in the outputs (and, on
 * failure, noted in the journal), with each gate's evidence.
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {errorMessage, OpsError, RunFailedError} from '../errors.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {failGate, GATE_FAILED, NO_DATA, verdictOf, type GateVerdict} from './gate-common.js'
import {defineStep, type StepContext, type StepKind, type StepPlan} from './types.js'

// The same shape as a gate in rollout.gates (src/lib/config/schema.ts), so that list can be passed as it is.
const gate = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, {error: 'expected an id of lower-case letters, digits and dashes'})
    .optional(),
  uses: z.string().min(1, {error: 'expected a gate kind such as gate-http, gate-prometheus, gate-cloudwatch-alarms or gate-kubernetes'}),
  with: z.record(z.string(), z.unknown()).default({}),
})

const inputs = z.strictObject({
  gates: z.array(gate),
  /** The bake time, given to every gate that takes a `duration` and has none of its own. */
  duration: duration('a bake time').optional(),
  /** Stop the other gates as soon as one fails. */
  failFast: z.boolean().default(true),
  /** Pass with no gates at all (otherwise: no gates, no evidence, fail). */
  allowEmpty: z.boolean().default(false),
})
type Inputs = z.output<typeof inputs>

export interface GateOutcome {
  id: string
  uses: string
  result: GateVerdict
  summary: string
  evidence: unknown
  code?: string
  stopped?: boolean
  durationMs: number
}

interface Prepared {
  id: string
  uses: string
  kind: StepKind
  inputs: unknown
}

/**
 * Load and validate every gate; all problems at once, each naming its gate (by index, for a
 * config's path). Used by the step at run time and by the config check before any run.
 */
export async function prepareGates(
  gates: z.output<typeof gate>[],
  bake: string | undefined,
  load: (kind: string) => Promise<StepKind>,
): Promise<{prepared: Prepared[]; problems: {index: number; message: string}[]}> {
  const problems: {index: number; message: string}[] = []
  const prepared: Prepared[] = []
  const seen = new Map<string, number>()
  for (const [n, g] of gates.entries()) {
    let id = g.id ?? g.uses
    const count = (seen.get(id) ?? 0) + 1
    seen.set(id, count)
    if (count > 1) id = `${id}-${count}`
    const label = `gate ${n + 1} "${id}" (${g.uses})`
    const problem = (message: string) => problems.push({index: n, message: `${label}: ${message}`})
    if (g.uses === 'gates') {
      problem('a gates step cannot contain another')
      continue
    }
    let kind: StepKind
    try {
      kind = await load(g.uses)
    } catch (error) {
      problem(errorMessage(error))
      continue
    }
    const shape = (kind.inputs as {shape?: Record<string, unknown>}).shape
    const withDuration = bake !== undefined && shape && 'duration' in shape && g.with.duration === undefined ? {...g.with, duration: bake} : g.with
    const parsed = kind.inputs.safeParse(withDuration)
    if (!parsed.success) {
      problem(parsed.error.issues.map((x) => `with${x.path.map((k) => `.${String(k)}`).join('')}: ${x.message}`).join('; '))
      continue
    }
    if (kind.mutates(parsed.data)) {
      problem(`${g.uses} changes the world; a gate must only look`)
      continue
    }
    prepared.push({id, uses: g.uses, kind, inputs: parsed.data})
  }
  return {prepared, problems}
}

async function prepare(ctx: StepContext, i: Inputs): Promise<Prepared[]> {
  const {prepared, problems} = await prepareGates(i.gates, i.duration, (k) => ctx.kinds.load(k))
  if (problems.length) throw new RunFailedError(`invalid gate input${problems.length > 1 ? 's' : ''}:\n  ${problems.map((p) => p.message).join('\n  ')}`, {code: 'BAD_INPUT'})
  return prepared
}

/** A gate's own view of the step: its logs prefixed, its notes kept for the combined note, its own abort. */
function childContext(ctx: StepContext, g: Prepared, signal: AbortSignal): StepContext {
  return {...ctx, stepId: `${ctx.stepId}.${g.id}`, signal, log: (line) => ctx.log(`[${g.id}] ${line}`), note: async () => undefined}
}

const EMPTY = 'no gates to run: no gates means no evidence; configure rollout.gates in clipper-ops.yaml (or pass allowEmpty: true)'

export default defineStep({
  kind: 'gates',
  description: 'Run several gates at once over a shared bake time; pass only if all pass, report every result with its evidence',
  // Its gates may read CloudWatch: a run with gates checks its AWS identity first.
  needs: ['aws'],
  inputs,
  mutates: () => false,
  title: (i) => `Gates (${i.gates.length})${i.duration ? ` for ${i.duration}` : ''}`,

  async plan(ctx, i) {
    if (i.gates.length === 0) {
      return {
        summary: i.allowEmpty ? 'no gates (allowed)' : `will fail: ${EMPTY}`,
        changes: [{action: 'check', target: 'gates', detail: i.allowEmpty ? 'none' : 'none: fails'}],
        estimateMs: 0,
      }
    }
    const prepared = await prepare(ctx, i)
    const plans: (StepPlan & {id: string})[] = []
    for (const g of prepared) plans.push({id: g.id, ...(await g.kind.plan(childContext(ctx, g, ctx.signal), g.inputs))})
    return {
      summary: `${prepared.length} gate(s) at once${i.duration ? ` over ${i.duration}` : ''}: ${plans.map((p) => `${p.id}: ${p.summary}`).join('; ')}`,
      changes: plans.flatMap((p) => p.changes.map((c) => ({...c, detail: `[${p.id}] ${c.detail ?? ''}`.trim()}))),
      estimateMs: Math.max(0, ...plans.map((p) => p.estimateMs ?? 0)),
      worstCaseMs: Math.max(0, ...plans.map((p) => p.worstCaseMs ?? p.estimateMs ?? 0)),
    }
  },

  async run(ctx, i) {
    if (i.gates.length === 0) {
      if (i.allowEmpty) return {summary: 'no gates (allowed)', outputs: {gates: []}}
      return failGate(ctx, `no data: ${EMPTY}`, {gates: []}, NO_DATA)
    }
    const prepared = await prepare(ctx, i)
    await Promise.all(prepared.map((g) => g.kind.warmup?.(childContext(ctx, g, ctx.signal), g.inputs)))
    const stop = new AbortController()
    const signal = AbortSignal.any([ctx.signal, stop.signal])
    let firstFailure: string | undefined
    ctx.log(`${prepared.length} gate(s): ${prepared.map((g) => `${g.id} (${g.uses})`).join(', ')}`)
    // The bake's countdown: when it ends, then what is left every 30 s (lines, so logs show it too).
    const bakeMs = i.duration ? parseDuration(i.duration) : undefined
    let countdown: NodeJS.Timeout | undefined
    if (bakeMs) {
      const until = Date.now() + bakeMs
      ctx.log(`watching for ${formatDuration(bakeMs)}, until ${new Date(until).toISOString().slice(11, 19)} UTC`)
      countdown = setInterval(() => ctx.log(`${formatDuration(Math.max(0, Math.round((until - Date.now()) / 1000) * 1000))} of the bake left`), 30_000)
      countdown.unref()
    }

    const outcomes = await Promise.all(
      prepared.map(async (g): Promise<GateOutcome> => {
        const started = Date.now()
        try {
          const r = await g.kind.run(childContext(ctx, g, signal), g.inputs)
          ctx.log(`[${g.id}] pass: ${r.summary ?? ''}`)
          return {id: g.id, uses: g.uses, result: 'pass', summary: r.summary ?? 'passed', evidence: r.outputs ?? {}, durationMs: Date.now() - started}
        } catch (error) {
          if (ctx.signal.aborted) throw ctx.signal.reason
          const durationMs = Date.now() - started
          if (stop.signal.aborted && !(error instanceof OpsError)) {
            return {
              id: g.id,
              uses: g.uses,
              result: 'no-data',
              summary: `stopped after ${formatDuration(durationMs)}: ${firstFailure} failed first`,
              evidence: {},
              stopped: true,
              durationMs,
            }
          }
          const result = verdictOf(error)
          ctx.log(`[${g.id}] ${result}: ${errorMessage(error)}`)
          if (i.failFast && !stop.signal.aborted) {
            firstFailure = g.id
            stop.abort(new Error(`gate ${g.id} failed`))
          }
          const code = error instanceof OpsError ? error.code : undefined
          return {id: g.id, uses: g.uses, result, summary: errorMessage(error), evidence: error instanceof OpsError ? (error.details ?? {}) : {}, code, durationMs}
        }
      }),
    ).finally(() => clearInterval(countdown))

    const outputs = {gates: outcomes}
    // Gate results are part of the audit trail, as shifts and approvals are: who moved traffic
    // on what evidence.
    ctx.audit('gates', {results: outcomes.map((o) => ({id: o.id, uses: o.uses, result: o.result, summary: o.summary}))})
    const failed = outcomes.filter((o) => o.result !== 'pass')
    if (failed.length) {
      const code = failed.some((o) => o.result === 'fail') ? GATE_FAILED : NO_DATA
      // Lead with the gates that failed or had no data; gates stopped early because another failed
      // are named after them, as not judged.
      const judged = failed.filter((o) => !o.stopped)
      const stopped = failed.filter((o) => o.stopped)
      const lines = judged.map((o) => `${o.id} (${o.uses}) ${o.result}: ${o.summary}`)
      if (stopped.length) lines.push(`stopped before judging, as the rollout cannot pass: ${stopped.map((o) => o.id).join(', ')}`)
      return failGate(ctx, `${judged.length} of ${outcomes.length} gate(s) did not pass:\n  ${lines.join('\n  ')}`, outputs, code)
    }
    const summary = `all ${outcomes.length} gate(s) passed: ${outcomes.map((o) => o.id).join(', ')}`
    return {summary, outputs, changes: outcomes.map((o) => ({action: 'check' as const, target: o.id, detail: o.summary}))}
  },
})
