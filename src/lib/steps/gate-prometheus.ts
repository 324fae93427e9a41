/**
 * `gate-prometheus`: an instant query against the Prometheus HTTP API (GET /api/v1/query),
 * every sample compared with `max` and/or `min`; optionally evaluated again every `interval`
 * over a bake time. `slo` takes the threshold from the environment's SLOs instead (errorRate as
 * a fraction; p95 in seconds, Prometheus' unit for durations).
 *
 * No data — an empty result, a NaN sample (typically 0/0: no traffic in the rate window), or a
 * Prometheus that cannot be reached — fails with NO_DATA. A query Prometheus rejects is a
 * failure of its own (BAD_QUERY): the gate's question is wrong, and no amount of waiting helps.
 */
import {z} from 'zod'
import {duration, httpUrl} from '../config/schema.js'
import {RunFailedError} from '../errors.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {failGate, ms, NO_DATA, protectHeaders, watch, watchInputs, watchText} from './gate-common.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z
  .strictObject({
    query: z.string().trim().min(1, {error: 'expected a PromQL query'}),
    /** Prometheus' base URL; default: the environment's prometheus.url. */
    url: httpUrl('http://prometheus.monitoring:9090').optional(),
    /** Every sample must be ≤ max and ≥ min. */
    max: z.number().optional(),
    min: z.number().optional(),
    /** Take `max` from the environment's SLO when it is not given. */
    slo: z.enum(['errorRate', 'p95']).optional(),
    /** A name for messages, e.g. "kubernetes 5xx ratio"; default: the query. */
    name: z.string().min(1).optional(),
    ...watchInputs('30s'),
    /** Per-request timeout. */
    timeout: duration().default('10s'),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .refine((i) => i.max !== undefined || i.min !== undefined || i.slo !== undefined, {error: 'give max, min or slo: a query with no threshold checks nothing'})
type Inputs = z.output<typeof inputs>

interface Sample {
  labels: Record<string, string>
  value: number
}

function thresholds(ctx: StepContext, i: Inputs): {max?: number; min?: number} {
  let max = i.max
  if (max === undefined && i.slo === 'errorRate') max = ctx.environment?.slos.errorRate ?? 0.001
  if (max === undefined && i.slo === 'p95') max = parseDuration(ctx.environment?.slos.p95 ?? '200ms')! / 1000
  return {max, min: i.min}
}

function baseUrl(ctx: StepContext, i: Inputs): string {
  const url = i.url ?? ctx.environment?.prometheus?.url
  if (!url) throw new RunFailedError('gate-prometheus: no Prometheus URL: give `url`, or set prometheus.url for this environment in clipper-ops.yaml', {code: 'BAD_INPUT'})
  return url
}

/** A series by its labels; a query that sums everything gives one series without labels. */
const labelText = (l: Record<string, string>) =>
  Object.keys(l).length === 0
    ? 'the series'
    : `{${Object.entries(l)
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ')}}`
/** Values as people read them: three significant digits (0.0909, not 0.09090909090909091). */
const valueText = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(3))) : String(v))
/** The query's range window ([1m] of a rate): data that old still counts, e.g. just after a fault cleared. */
function windowText(query: string): string {
  const w = /\[(\d+(?:ms|[smhdwy]))(?::[^\]]*)?\]/.exec(query)?.[1]
  return w ? `; the query looks back ${w}, so what happened up to ${w} ago still counts` : ''
}
const rangeText = (t: {max?: number; min?: number}) => [t.min !== undefined && `≥ ${t.min}`, t.max !== undefined && `≤ ${t.max}`].filter(Boolean).join(' and ')

/** Prometheus writes sample values as strings, infinities as +Inf/-Inf (which Number() does not read). */
function parseSample(v: unknown): number {
  if (v === '+Inf' || v === 'Inf') return Infinity
  if (v === '-Inf') return -Infinity
  return typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
}

class QueryError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

async function instantQuery(base: string, i: Inputs, signal: AbortSignal): Promise<Sample[]> {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`)
  url.searchParams.set('query', i.query)
  let res: Response
  try {
    res = await fetch(url, {headers: {accept: 'application/json', ...i.headers}, signal: AbortSignal.any([signal, AbortSignal.timeout(ms(i.timeout, 10_000))])})
  } catch (error) {
    if (signal.aborted) throw signal.reason
    const e = error as Error & {cause?: {code?: string}}
    throw new QueryError(`Prometheus at ${base} did not answer: ${e.name === 'TimeoutError' ? `timeout after ${i.timeout}` : (e.cause?.code ?? e.message)}`, NO_DATA)
  }
  const text = await res.text()
  let body: {status?: string; errorType?: string; error?: string; warnings?: string[]; data?: {resultType?: string; result?: unknown}}
  try {
    body = JSON.parse(text)
  } catch {
    throw new QueryError(`${base} answered HTTP ${res.status} with something that is not the Prometheus API (${text.slice(0, 80).trim()})`, NO_DATA)
  }
  if (body.status !== 'success') {
    const what = `${body.errorType ?? 'error'}: ${body.error ?? `HTTP ${res.status}`}`
    // 400 bad_data and 422 execution: the query itself is wrong. Anything else (503, timeouts): Prometheus could not say.
    if (res.status === 400 || res.status === 422) throw new QueryError(`Prometheus rejected the query ${i.query}: ${what}`, 'BAD_QUERY')
    throw new QueryError(`Prometheus at ${base} failed to answer (HTTP ${res.status}, ${what})`, NO_DATA)
  }
  const {resultType, result} = body.data ?? {}
  if (resultType === 'scalar') return [{labels: {}, value: parseSample((result as unknown[])?.[1])}]
  if (resultType === 'vector') {
    return ((result as {metric?: Record<string, string>; value?: unknown[]}[]) ?? []).map((s) => ({labels: s.metric ?? {}, value: parseSample(s.value?.[1])}))
  }
  throw new QueryError(
    `the query ${i.query} returns a ${resultType}; the gate needs an instant vector or a scalar (drop the range selector, or wrap it in a function such as rate())`,
    'BAD_QUERY',
  )
}

export default defineStep({
  kind: 'gate-prometheus',
  description: 'Prometheus instant query; every sample within max/min (empty or NaN = no data, fails), optionally over a bake time',
  inputs,
  mutates: () => false,
  title: (i) => `Prometheus gate ${i.name ?? i.query}`,

  async plan(ctx, i) {
    const t = thresholds(ctx, i)
    const d = ms(i.duration)
    const interval = ms(i.interval, 30_000)
    const base = i.url ?? ctx.environment?.prometheus?.url ?? '(no Prometheus URL configured)'
    return {
      summary: `${i.name ? `${i.name}: ` : ''}${i.query} ${rangeText(t)}, ${watchText(d, interval)}, at ${base}`,
      changes: [{action: 'check', target: base, detail: `${i.query} ${rangeText(t)}`}],
      estimateMs: d,
      worstCaseMs: d + (Math.ceil(d / interval) + 1) * ms(i.timeout, 10_000),
    }
  },

  async run(ctx, i) {
    const t = thresholds(ctx, i)
    const base = baseUrl(ctx, i)
    protectHeaders(ctx, i.headers)
    const pw = new URL(base).password
    if (pw) ctx.secret(pw)
    const what = i.name ?? i.query
    const d = ms(i.duration)
    const interval = ms(i.interval, 30_000)
    let last: Sample[] = []
    let worst: Sample | undefined
    let n = 0
    const evidence = () => ({url: base, query: i.query, ...t, evaluations: n, samples: last, ...(worst && {worst})})

    ctx.log(`${what} ${rangeText(t)}, ${watchText(d, interval)}`)
    await watch(ctx, d, interval, async (round) => {
      n = round
      try {
        last = await instantQuery(base, i, ctx.signal)
      } catch (error) {
        if (!(error instanceof QueryError)) throw error
        return failGate(ctx, error.message, evidence(), error.code)
      }
      const numeric = last.filter((s) => !Number.isNaN(s.value))
      // "Worst" is the sample farthest past (or closest to) a limit: the highest against max, the lowest against min.
      for (const s of numeric) {
        if (!worst || (t.max !== undefined ? s.value > worst.value : s.value < worst.value)) worst = s
      }
      const bad = numeric.filter((s) => (t.max !== undefined && s.value > t.max) || (t.min !== undefined && s.value < t.min))
      ctx.log(`evaluation ${round}: ${last.length} series${numeric.length ? `, ${numeric.map((s) => valueText(s.value)).join(', ')}` : ''}`)
      if (bad.length) {
        const list = bad
          .slice(0, 5)
          .map((s) => `${labelText(s.labels)} = ${valueText(s.value)}`)
          .join(', ')
        return failGate(
          ctx,
          `${what}: ${list}${bad.length > 5 ? ', …' : ''}, outside ${rangeText(t)} (${bad.length} of ${last.length} series, evaluation ${round}${windowText(i.query)})`,
          evidence(),
        )
      }
      if (last.length === 0) return failGate(ctx, `no data: ${what} returned no series (evaluation ${round}, ${base})`, evidence(), NO_DATA)
      if (numeric.length < last.length) {
        const nan = last.filter((s) => Number.isNaN(s.value)).map((s) => labelText(s.labels))
        return failGate(ctx, `no data: ${what} is NaN for ${nan.join(', ')} (no traffic in the query's window?) (evaluation ${round})`, evidence(), NO_DATA)
      }
    })
    const summary = `${what}: ${last.map((s) => valueText(s.value)).join(', ')} ${rangeText(t)} in ${n} evaluation(s)${d ? ` over ${formatDuration(d)}` : ''}`
    return {summary, outputs: evidence(), changes: [{action: 'check', target: base, detail: summary}]}
  },
})
