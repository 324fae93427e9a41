/**
 * The seeds' checklists as code. A check reads the world (never changes it) and says pass,
 * warn or fail with a one-line reason. Which checks run follows from what the environment's
 * config declares: a check applies only when its part is configured.
 */
import type {Environment} from '../config/schema.js'
import {errorMessage} from '../errors.js'
import type {StepContext} from '../steps/types.js'

export type Phase = 'pre' | 'post'
export type CheckStatus = 'pass' | 'warn' | 'fail'

export interface CheckOutcome {
  status: CheckStatus
  /** One line: what was found, or what is wrong and where. */
  detail: string
}

export interface Check {
  id: string
  phase: Phase
  title: string
  applies(env: Environment): boolean
  run(ctx: StepContext, env: Environment): Promise<CheckOutcome>
}

export interface CheckResult extends CheckOutcome {
  id: string
  title: string
  durationMs: number
}

export const pass = (detail: string): CheckOutcome => ({status: 'pass', detail})
export const warn = (detail: string): CheckOutcome => ({status: 'warn', detail})
export const fail = (detail: string): CheckOutcome => ({status: 'fail', detail})

/** Problems found one by one: fail naming them all, or pass with what was seen. */
export function verdict(problems: string[], ok: string): CheckOutcome {
  return problems.length ? fail(problems.join('; ')) : pass(ok)
}

/** Run checks a few at a time, each with its own time limit; a check that throws fails with the reason. */
export async function runChecks(checks: Check[], ctx: StepContext, env: Environment, o: {concurrency?: number; timeoutMs?: number} = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = new Array(checks.length)
  let next = 0
  const worker = async () => {
    while (next < checks.length) {
      const i = next++
      const c = checks[i]!
      const started = Date.now()
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(o.timeoutMs ?? 60_000)])
      let outcome: CheckOutcome
      try {
        outcome = await c.run({...ctx, signal}, env)
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason
        outcome = fail(signal.aborted ? `no answer within ${Math.round((o.timeoutMs ?? 60_000) / 1000)}s` : ctx.redact(errorMessage(error).split('\n')[0]!))
      }
      results[i] = {id: c.id, title: c.title, ...outcome, detail: ctx.redact(outcome.detail), durationMs: Date.now() - started}
    }
  }
  await Promise.all(Array.from({length: Math.min(o.concurrency ?? 6, checks.length)}, worker))
  return results
}

export function countByStatus(results: CheckResult[]): Record<CheckStatus, number> {
  return {pass: results.filter((r) => r.status === 'pass').length, warn: results.filter((r) => r.status === 'warn').length, fail: results.filter((r) => r.status === 'fail').length}
}
