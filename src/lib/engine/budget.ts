/**
 * The budget decides: before a runbook with a deadline and a `budget` section starts, its planned
 * worst case is compared with the time it has. One that cannot fit is said at once — with the
 * steps that make it long and the faster path the runbook declares — instead of failing late.
 * A dry run shows the same verdict, from the same function.
 */
import type {Runbook} from '../runbook/schema.js'
import {formatDuration} from '../util/duration.js'
import type {Plan} from './planner.js'

export interface BudgetVerdict {
  fits: boolean
  budgetMs: number
  worstCaseMs: number
  /** The steps that weigh most in the worst case. */
  heaviest: {id: string; worstCaseMs: number}[]
  /** The runbook's faster path, planned too (only looked at when the plan does not fit). */
  fastPath?: {description: string; params: Record<string, unknown>; worstCaseMs: number; fits: boolean}
  /** Taken already (--fast). */
  fast: boolean
  message: string
}

export type FastPath = NonNullable<NonNullable<Runbook['budget']>['fastPath']>

/** The verdict for a plan (and, when it does not fit, the plan of the runbook's faster path). */
export function budgetVerdict(plan: Plan, o: {fast: boolean; fastPath?: FastPath; fastPlan?: Plan}): BudgetVerdict | undefined {
  if (plan.deadlineMs === undefined) return undefined
  const budgetMs = plan.deadlineMs
  const worstCaseMs = plan.worstCaseMs
  const fits = worstCaseMs <= budgetMs
  const heaviest = plan.steps
    .filter((s) => s.runs !== false && s.worstCaseMs > 0)
    .sort((a, b) => b.worstCaseMs - a.worstCaseMs)
    .slice(0, 3)
    .map((s) => ({id: s.id, worstCaseMs: s.worstCaseMs}))
  const fastPath =
    !fits && o.fastPath && o.fastPlan
      ? {description: o.fastPath.description, params: o.fastPath.params, worstCaseMs: o.fastPlan.worstCaseMs, fits: o.fastPlan.worstCaseMs <= budgetMs}
      : undefined
  const head = `${o.fast ? 'Faster path: worst' : 'Worst'} case ${formatDuration(worstCaseMs)} against a budget of ${formatDuration(budgetMs)}`
  let message: string
  if (fits) message = `${head}: it fits.`
  else {
    const weights = heaviest.map((h) => `${h.id} ${formatDuration(h.worstCaseMs)}`).join(', ')
    const fast = fastPath
      ? fastPath.fits
        ? ` The runbook's faster path — ${fastPath.description} — has a worst case of ${formatDuration(fastPath.worstCaseMs)}, which fits: run it with --fast.`
        : ` Even the runbook's faster path (${fastPath.description}) does not fit: its worst case is ${formatDuration(fastPath.worstCaseMs)}.`
      : o.fast
        ? ''
        : ' The runbook declares no faster path.'
    message = `${head}: it DOES NOT FIT (the longest: ${weights}).${fast} To start anyway, knowing it may overrun, add --over-budget.`
  }
  return {fits, budgetMs, worstCaseMs, heaviest, ...(fastPath ? {fastPath} : {}), fast: o.fast, message}
}
