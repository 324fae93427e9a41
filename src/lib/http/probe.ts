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
  }
}
