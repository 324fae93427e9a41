/**
 * `gate-http`: watch a URL through a bake time. Every `interval` a round of `requestsPerRound`
 * requests goes out; error rate, p95 latency and (optionally) a response header are judged over
 * the whole window, against the environment's SLOs unless given.
 *
 * The number of requests in the window is fixed up front (rounds × requestsPerRound), so the gate
 * can tell when the window can no longer pass — say, more errors than the error budget of the
 * whole window — and then fails at once (`failFast`) instead of baking a broken release for the
 * rest of the bake time. That is exact, not a guess: waiting could not change the verdict.
 *
 * No data: when not one request got an HTTP answer (refused, reset, timed out) the gate fails
 * with NO_DATA. An answer with a 5xx status is data — it counts as an error.
 */
import {z} from 'zod'
import {duration, fraction} from '../config/schema.js'
import {probe, percentile} from '../http/probe.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {failGate, ms, NO_DATA, pct, protectHeaders, sleep} from './gate-common.js'
import {probeInputs} from '../http/probe-inputs.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  ...probeInputs,
  /** The bake time to watch over; without it, one round. */
  duration: duration('a bake time').optional(),
  /** Time between the starts of two rounds. */
  interval: duration('an interval').default('5s'),
  requestsPerRound: z.number().int().min(1).max(10_000).default(10),
  /**
   * A header answers must carry, e.g. {name: X-Served-By, value: legacy} to prove that a rollback
   * really put traffic back on legacy. minShare: the share of answers that must carry it (default all).
   */
  expectHeader: z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, {error: 'expected an HTTP header name such as X-Served-By'}),
      value: z.string(),
      minShare: fraction.default(1),
    })
    .optional(),
  /** Fail as soon as the window can no longer pass (once minRequests were sent). */
  failFast: z.boolean().default(true),
  minRequests: z.number().int().min(1).default(20),
})
type Inputs = z.output<typeof inputs>

interface Limits {
  maxErrorRate: number
  maxP95Ms: number
  rounds: number
  planned: number
  intervalMs: number
}

function limits(ctx: StepContext, i: Inputs): Limits {
  const durationMs = ms(i.duration)
  const intervalMs = ms(i.interval, 5000)
  const rounds = durationMs > 0 ? Math.max(1, Math.round(durationMs / intervalMs)) : 1
  return {
    maxErrorRate: i.maxErrorRate ?? ctx.environment?.slos.errorRate ?? 0.001,
    maxP95Ms: parseDuration(i.maxP95 ?? ctx.environment?.slos.p95 ?? '200ms')!,
    rounds,
    planned: rounds * i.requestsPerRound,
    intervalMs,
  }
}

/** What the window has seen so far. */
class Window {
  sent = 0
  responses = 0
  errors = 0
  rounds = 0
  latencies: number[] = []
  statuses: Record<string, number> = {}
  servedBy: Record<string, number> = {}
  headerCounts: Record<string, number> = {}
  sampleErrors: string[] = []

  add(r: Awaited<ReturnType<typeof probe>>): void {
    this.rounds++
    this.sent += r.requests
    this.responses += r.responses
    this.errors += r.errors
    this.latencies.push(...(r.latenciesMs ?? []))
    const merge = (into: Record<string, number>, from: Record<string, number> | undefined) => {
      for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v
    }
    merge(this.statuses, r.statuses)
    merge(this.servedBy, r.servedBy)
    merge(this.headerCounts, r.headerCounts)
    for (const e of r.sampleErrors) if (this.sampleErrors.length < 5 && !this.sampleErrors.includes(e)) this.sampleErrors.push(e)
  }

  p(q: number): number {
    const sorted = [...this.latencies].sort((a, b) => a - b)
    const v = percentile(sorted, q)
    return Number.isNaN(v) ? v : Math.round(v * 10) / 10
  }
}

export default defineStep({
  kind: 'gate-http',
  description: 'Watch a URL over a bake time: error rate and p95 latency within the SLO, optional header check (no answers = no data, fails)',
  inputs,
  mutates: () => false,
  title: (i) => `HTTP gate ${i.url}${i.duration ? ` for ${i.duration}` : ''}`,

  async plan(ctx, i) {
    const l = limits(ctx, i)
    const header = i.expectHeader
      ? `, ${i.expectHeader.minShare < 1 ? `≥ ${pct(i.expectHeader.minShare)} of answers` : 'every answer'} with ${i.expectHeader.name}: ${i.expectHeader.value}`
      : ''
    const span = (l.rounds - 1) * l.intervalMs
    const roundWorst = Math.ceil(i.requestsPerRound / i.concurrency) * ms(i.timeout, 5000)
    return {
      summary: `${l.planned} × ${i.method} ${i.url} in ${l.rounds} round(s) over ${formatDuration(span)}: error rate ≤ ${pct(l.maxErrorRate)}, p95 ≤ ${formatDuration(l.maxP95Ms)}${header}`,
      changes: [{action: 'check', target: i.url, detail: `${l.rounds} × ${i.requestsPerRound} requests, every ${formatDuration(l.intervalMs)}`}],
      estimateMs: span + Math.ceil(i.requestsPerRound / i.concurrency) * 50,
      worstCaseMs: l.rounds * Math.max(l.intervalMs, roundWorst),
    }
  },

  async run(ctx, i) {
    const l = limits(ctx, i)
    protectHeaders(ctx, i.headers)
    const w = new Window()
    const started = Date.now()
    const slowBudget = l.planned - Math.ceil(0.95 * l.planned)
    const slow = () => w.latencies.filter((x) => x > l.maxP95Ms).length
    const header = i.expectHeader
    const matching = () => (header ? (w.headerCounts[header.value] ?? 0) : 0)

    /** Why the whole window can no longer pass, whatever the remaining requests do; undefined while it still can. */
    const doomed = (): string | undefined => {
      if (w.errors > l.maxErrorRate * l.planned)
        return `${w.errors} error(s) so far, more than the ${Math.floor(l.maxErrorRate * l.planned)} that ${pct(l.maxErrorRate)} of the window's ${l.planned} requests allows`
      if (slow() > slowBudget) return `${slow()} answers slower than ${l.maxP95Ms}ms already exceed the window's 5% (${slowBudget} of ${l.planned})`
      if (header && w.responses - matching() > (1 - header.minShare) * l.planned)
        return `${w.responses - matching()} answers without ${header.name}: ${header.value} already exceed what ${pct(header.minShare)} allows`
      return undefined
    }

    let stoppedEarly: string | undefined
    ctx.log(`${l.rounds} round(s) of ${i.requestsPerRound} requests to ${i.url}, every ${formatDuration(l.intervalMs)}`)
    for (let k = 0; k < l.rounds; k++) {
      if (k > 0) await sleep(started + k * l.intervalMs - Date.now(), ctx.signal)
      const r = await probe({
        url: i.url,
        requests: i.requestsPerRound,
        concurrency: i.concurrency,
        method: i.method,
        headers: i.headers,
        expectStatus: i.expectStatus,
        timeoutMs: ms(i.timeout, 5000),
        signal: ctx.signal,
        keepLatencies: true,
        countHeader: header?.name,
      })
      w.add(r)
      ctx.log(`round ${k + 1}/${l.rounds}: ${w.sent} requests, ${w.errors} errors (${pct(w.errors / w.sent)}), p95 ${w.responses ? `${w.p(95)}ms` : 'n/a'}`)
      if (i.failFast && w.sent >= i.minRequests && k < l.rounds - 1) {
        stoppedEarly = doomed()
        if (stoppedEarly) break
      }
    }

    const errorRate = w.sent ? w.errors / w.sent : 0
    const p95 = w.p(95)
    const evidence = {
      url: i.url,
      requests: w.sent,
      plannedRequests: l.planned,
      rounds: w.rounds,
      plannedRounds: l.rounds,
      responses: w.responses,
      errors: w.errors,
      errorRate,
      p50Ms: w.p(50),
      p95Ms: p95,
      maxMs: w.p(100),
      statuses: w.statuses,
      servedBy: w.servedBy,
      ...(header && {
        header: {name: header.name, value: header.value, matching: matching(), share: w.responses ? matching() / w.responses : 0, minShare: header.minShare, seen: w.headerCounts},
      }),
      maxErrorRate: l.maxErrorRate,
      maxP95Ms: l.maxP95Ms,
      failedFast: stoppedEarly !== undefined,
      elapsedMs: Date.now() - started,
    }
    const when = stoppedEarly ? ` after ${w.sent} of ${l.planned} requests (stopped early: ${stoppedEarly})` : ''

    if (w.responses === 0) {
      return failGate(ctx, `no data: none of ${w.sent} requests to ${i.url} got an answer (${w.sampleErrors.join(', ')})${when}`, evidence, NO_DATA)
    }
    const problems: string[] = []
    if (errorRate > l.maxErrorRate) problems.push(`error rate ${pct(errorRate)} (${w.errors} of ${w.sent}) is above ${pct(l.maxErrorRate)} (${w.sampleErrors.join(', ')})`)
    if (p95 > l.maxP95Ms) problems.push(`p95 latency ${p95}ms is above ${l.maxP95Ms}ms`)
    if (header && matching() < header.minShare * w.responses) {
      const seen = Object.entries(w.headerCounts)
        .map(([v, n]) => `${v === '' ? '(missing)' : v}: ${n}`)
        .join(', ')
      problems.push(`${matching()} of ${w.responses} answers carried ${header.name}: ${header.value}, below ${pct(header.minShare)} (seen ${seen})`)
    }
    if (problems.length) return failGate(ctx, `${i.url}: ${problems.join('; ')}${when}`, evidence)

    const by = Object.keys(w.servedBy).length
      ? `, served by ${Object.entries(w.servedBy)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`
      : ''
    const summary = `${w.sent} requests in ${w.rounds} round(s), ${w.errors} errors (${pct(errorRate)}), p95 ${p95}ms${by}`
    return {summary, outputs: evidence, changes: [{action: 'check', target: i.url, detail: summary}]}
  },
})
