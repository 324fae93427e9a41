/**
 * HTTP probing: N requests (a few at a time), each with its own timeout, and the numbers the
 * SLOs speak of: error rate and latency percentiles. A network error or a timeout counts as an
 * error; so does a status outside the expected ones.
 */
export interface ProbeOptions {
  url: string
  requests: number
  concurrency: number
  timeoutMs: number
  method?: string
  headers?: Record<string, string>
  /** Status codes that count as success; default 200–399. */
  expectStatus?: number[]
  signal?: AbortSignal
  /** Pause between requests of one worker (to spread a probe over a bake period). */
  intervalMs?: number
  /** Return every answered request's latency (sorted), for callers that pool several probes. */
  keepLatencies?: boolean
  /** Also count the values of this response header (e.g. to check who served each answer). */
  countHeader?: string
}

export interface ProbeResult {
  url: string
  requests: number
  errors: number
  errorRate: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  statuses: Record<string, number>
  /** Counts by the X-Served-By response header (the sandbox's stacks set it). */
  servedBy: Record<string, number>
  /** A few error descriptions, for the failure message. */
  sampleErrors: string[]
  /** Requests that got an HTTP answer (any status); the rest failed at the network or timed out. */
  responses: number
  /** Sorted latencies of the answered requests; only with `keepLatencies`. */
  latenciesMs?: number[]
  /** Counts by the value of `countHeader` ('' when an answer lacks it); only with `countHeader`. */
  headerCounts?: Record<string, number>
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]!
}

export async function probe(o: ProbeOptions): Promise<ProbeResult> {
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  const servedBy: Record<string, number> = {}
  const sampleErrors: string[] = []
  const headerCounts: Record<string, number> = {}
  let errors = 0
  let next = 0
  const ok = (s: number) => (o.expectStatus ? o.expectStatus.includes(s) : s >= 200 && s < 400)

  const one = async () => {
    const started = performance.now()
    const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs)
    try {
      const res = await fetch(o.url, {method: o.method ?? 'GET', headers: o.headers, signal, redirect: 'manual'})
      await res.arrayBuffer()
      const ms = performance.now() - started
      latencies.push(ms)
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      const by = res.headers.get('x-served-by')
      if (by) servedBy[by] = (servedBy[by] ?? 0) + 1
      if (o.countHeader) {
        const v = res.headers.get(o.countHeader) ?? ''
        headerCounts[v] = (headerCounts[v] ?? 0) + 1
      }
      if (!ok(res.status)) {
        errors++
        if (sampleErrors.length < 3) sampleErrors.push(`HTTP ${res.status}`)
      }
    } catch (error) {
      if (o.signal?.aborted) throw o.signal.reason
      errors++
      const e = error as Error & {cause?: {code?: string}}
      const what = e.name === 'TimeoutError' ? `timeout after ${o.timeoutMs}ms` : (e.cause?.code ?? e.message)
      statuses[what] = (statuses[what] ?? 0) + 1
      if (sampleErrors.length < 3) sampleErrors.push(what)
    }
  }

  const worker = async () => {
    while (next < o.requests) {
      next++
      await one()
      if (o.intervalMs && next < o.requests) await new Promise((r) => setTimeout(r, o.intervalMs))
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(o.concurrency, o.requests))}, worker))
  latencies.sort((a, b) => a - b)
  const round = (n: number) => (Number.isNaN(n) ? n : Math.round(n * 10) / 10)
  return {
    url: o.url,
    requests: o.requests,
    errors,
    errorRate: o.requests ? errors / o.requests : 0,
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
    statuses,
    servedBy,
    sampleErrors,
    responses: latencies.length,
    ...(o.keepLatencies && {latenciesMs: latencies}),
    ...(o.countHeader && {headerCounts}),
  }
}
