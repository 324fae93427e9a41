/**
 * What the gate kinds (gate-http, gate-prometheus, gate-cloudwatch-alarms, gate-kubernetes,
 * gates) share: the verdict codes, threshold inputs, an abortable sleep, and the "evaluate now,
 * then every interval until the bake time is over" loop. Not a step kind itself.
 *
 * A gate passes by returning its evidence as outputs; it fails by throwing a RunFailedError
 * whose message carries the numbers. The engine journals only a failure's message and code, so
 * a failing gate also notes its evidence (ctx.note) to keep it in the run's journal.
 */
import {duration} from '../config/schema.js'
import {RunFailedError} from '../errors.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import type {StepContext} from './types.js'
import {sleep} from '../util/sleep.js'

export {sleep}

/** The gate saw nothing to judge (no answers, empty series, INSUFFICIENT_DATA). Not a pass. */
export const NO_DATA = 'NO_DATA'
/** The gate saw data, and the data says no. */
export const GATE_FAILED = 'GATE_FAILED'
/** Something the gate was told to check does not exist (an alarm, a Deployment). */
export const NOT_FOUND = 'NOT_FOUND'

export type GateVerdict = 'pass' | 'fail' | 'no-data'

/** How a gate's error reads as a verdict: NO_DATA is "no data", anything else is "fail". */
export function verdictOf(error: unknown): GateVerdict {
  return (error as {code?: unknown})?.code === NO_DATA ? 'no-data' : 'fail'
}

/** A fraction (0.001) or a percentage ("0.1%"), parsed to a fraction: the config's own rule. */
export {fraction} from '../config/schema.js'

/** The watch inputs of the polling gates: evaluate over `duration` (the bake), every `interval`. */
export const watchInputs = (interval: string) => ({
  /** How long to keep evaluating (the bake time); without it, one evaluation. */
  duration: duration('a bake time').optional(),
  interval: duration('an interval').default(interval),
})

export function ms(d: string | undefined, fallback = 0): number {
  return d === undefined ? fallback : (parseDuration(d) ?? fallback)
}

export function pct(f: number): string {
  return Number.isFinite(f) ? `${Number((f * 100).toFixed(3))}%` : String(f)
}

/** "over 5m, every 30s" or "once". */
export function watchText(durationMs: number, intervalMs: number): string {
  return durationMs > 0 ? `over ${formatDuration(durationMs)}, every ${formatDuration(intervalMs)}` : 'once'
}

/**
 * Evaluates at once, then every `intervalMs` until `durationMs` has passed, the last evaluation
 * at the end of the window (so a bake of 5m really looks at minute 5). `evaluate` throws to fail:
 * one bad evaluation is enough, there is no point watching a failed gate to the end.
 * Returns the number of evaluations.
 */
export async function watch(ctx: StepContext, durationMs: number, intervalMs: number, evaluate: (n: number) => Promise<void>): Promise<number> {
  const start = Date.now()
  for (let n = 1; ; n++) {
    if (ctx.signal.aborted) throw ctx.signal.reason
    await evaluate(n)
    const elapsed = Date.now() - start
    if (elapsed >= durationMs) return n
    await sleep(Math.min(intervalMs, durationMs - elapsed), ctx.signal)
  }
}

/** Fail the gate: note the evidence in the journal, then throw with the message that carries the numbers. */
export async function failGate(ctx: StepContext, message: string, evidence: Record<string, unknown>, code: string = GATE_FAILED): Promise<never> {
  await ctx.note({gate: {verdict: code === NO_DATA ? 'no-data' : 'fail', code, evidence}}).catch(() => undefined)
  throw new RunFailedError(message, {code, details: evidence})
}

/** Header values that look like credentials are kept out of logs, state and reports. */
export function protectHeaders(ctx: StepContext, headers: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(headers ?? {})) if (/authorization|cookie|token|key|secret|password/i.test(k)) ctx.secret(v)
}
