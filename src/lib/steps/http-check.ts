/**
 * `http-check`: N requests to a URL, judged on error rate and p95 latency. Thresholds default to
 * the environment's SLOs (error rate < 0.1 %, p95 < 200 ms). No answers at all is "no data",
 * which fails: no data is not a pass.
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {probeInputs} from '../http/probe-inputs.js'
import {RunFailedError} from '../errors.js'
import {probe} from '../http/probe.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {defineStep} from './types.js'

const inputs = z.strictObject({
  ...probeInputs,
  requests: z.number().int().min(1).max(100_000).default(20),
  /** Pause between a worker's requests, to spread the probe out. */
  interval: duration().optional(),
})

export default defineStep({
  kind: 'http-check',
  description: 'Send N requests to a URL; fail on error rate or p95 latency above the SLO (no data fails)',
  inputs,
  mutates: () => false,
  title: (i) => `HTTP check ${i.url}`,

  async plan(ctx, i) {
    const maxRate = i.maxErrorRate ?? ctx.environment?.slos.errorRate ?? 0.001
    const maxP95 = parseDuration(i.maxP95 ?? ctx.environment?.slos.p95 ?? '200ms')!
    const est = (i.requests * (i.interval ? parseDuration(i.interval)! : 50)) / i.concurrency
    return {
      summary: `${i.requests} × ${i.method} ${i.url}: error rate ≤ ${(maxRate * 100).toFixed(2)}%, p95 ≤ ${formatDuration(maxP95)}`,
      changes: [{action: 'check', target: i.url, detail: `${i.requests} requests`}],
      estimateMs: Math.round(est),
      worstCaseMs: Math.ceil(i.requests / i.concurrency) * parseDuration(i.timeout)!,
    }
  },

  async run(ctx, i) {
    const maxRate = i.maxErrorRate ?? ctx.environment?.slos.errorRate ?? 0.001
    const maxP95 = parseDuration(i.maxP95 ?? ctx.environment?.slos.p95 ?? '200ms')!
    ctx.log(`${i.requests} requests to ${i.url}, ${i.concurrency} at a time`)
    const r = await probe({
      url: i.url,
      requests: i.requests,
      concurrency: i.concurrency,
      method: i.method,
      headers: i.headers,
      expectStatus: i.expectStatus,
      timeoutMs: parseDuration(i.timeout)!,
      intervalMs: i.interval ? parseDuration(i.interval) : undefined,
      signal: ctx.signal,
    })
    const summary = `${r.requests} requests, ${r.errors} errors (${(r.errorRate * 100).toFixed(2)}%), p95 ${Number.isNaN(r.p95Ms) ? 'n/a' : `${r.p95Ms}ms`}`
    const outputs = {...r, maxErrorRate: maxRate, maxP95Ms: maxP95}
    if (r.errors === r.requests) {
      throw new RunFailedError(`no data: none of ${r.requests} requests to ${i.url} succeeded (${r.sampleErrors.join(', ')})`, {code: 'NO_DATA', details: outputs})
    }
    const problems: string[] = []
    if (r.errorRate > maxRate) problems.push(`error rate ${(r.errorRate * 100).toFixed(2)}% is above ${(maxRate * 100).toFixed(2)}% (${r.sampleErrors.join(', ')})`)
    if (r.p95Ms > maxP95) problems.push(`p95 latency ${r.p95Ms}ms is above ${maxP95}ms`)
    if (problems.length) throw new RunFailedError(`${i.url}: ${problems.join('; ')}`, {code: 'CHECK_FAILED', details: outputs})
    return {summary, outputs, changes: [{action: 'check', target: i.url, detail: summary}]}
  },
})
