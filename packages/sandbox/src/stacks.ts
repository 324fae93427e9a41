/**
 * The two Clipper stacks as local HTTP services: the legacy Docker Compose stack and the
 * Kubernetes stack. Each answers /health and a sample page, marks every answer with
 * X-Served-By, and has knobs: an error rate (5xx), added latency, and up/down (down means the
 * port is closed: connection refused, as when a host is gone). Per-second counters feed the
 * sandbox's Prometheus stand-in.
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

export type StackName = 'legacy' | 'kubernetes'

export interface StackKnobs {
  errorRate: number
  latencyMs: number
  up: boolean
}

interface Bucket {
  second: number
  requests: number
  errors: number
  latencies: number[]
}

export interface Stack {
  name: StackName
  url: string
  port: number
  knobs: StackKnobs
  set(k: Partial<StackKnobs>): Promise<void>
  /** Totals since start, and per-second buckets of the last two minutes. */
  totals: {requests: number; errors: number}
  window(seconds: number): {requests: number; errors: number; p95Ms: number | undefined}
  /** Forget the traffic seen so far (sandbox reset: a fresh world has no history). */
  resetStats(): void
  close(): Promise<void>
}

export const DEFAULT_KNOBS: StackKnobs = {errorRate: 0, latencyMs: 0, up: true}

export async function startStack(name: StackName, opts: {port?: number; host?: string; healthy?: () => boolean; knobs?: Partial<StackKnobs>} = {}): Promise<Stack> {
  const host = opts.host ?? '127.0.0.1'
  const knobs: StackKnobs = {...DEFAULT_KNOBS, ...opts.knobs}
  const totals = {requests: 0, errors: 0}
  const buckets: Bucket[] = []
  const sockets = new Set<Socket>()

  const bucket = (): Bucket => {
    const second = Math.floor(Date.now() / 1000)
    let b = buckets.at(-1)
    if (!b || b.second !== second) {
      b = {second, requests: 0, errors: 0, latencies: []}
      buckets.push(b)
      while (buckets.length > 120) buckets.shift()
    }
    return b
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    req.resume()
    req.on('end', () => {
      setTimeout(() => {
        const path = (req.url ?? '/').split('?')[0]
        let status = 200
        let body: string
        const injected = knobs.errorRate > 0 && Math.random() < knobs.errorRate
        if (injected) {
          status = 503
          body = JSON.stringify({stack: name, error: 'injected failure (sandbox fault)'})
        } else if (path === '/health' || path === '/healthz') {
          const ok = opts.healthy ? opts.healthy() : true
          status = ok ? 200 : 503
          body = JSON.stringify({stack: name, status: ok ? 'ok' : 'unhealthy'})
        } else {
          body = `<!doctype html><title>Clipper</title><h1>Clipper</h1><p>served by the ${name} stack</p>\n`
        }
        res.writeHead(status, {'content-type': path === '/health' || injected ? 'application/json' : 'text/html', 'x-served-by': name})
        res.end(body)
        const b = bucket()
        const ms = performance.now() - started
        b.requests++
        b.latencies.push(ms)
        totals.requests++
        if (status >= 500) {
          b.errors++
          totals.errors++
        }
      }, knobs.latencyMs)
    })
  }

  const server = http.createServer(handler)
  server.keepAliveTimeout = 5000
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  let port = opts.port ?? 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  if (knobs.up) await listen()
  else {
    // Reserve a port number even when starting down, so the URL is stable.
    await listen()
    await stop()
  }

  return {
    name,
    get url() {
      return `http://${host}:${port}`
    },
    get port() {
      return port
    },
    knobs,
    totals,
    async set(k) {
      const wasUp = knobs.up
      Object.assign(knobs, k)
      if (wasUp && !knobs.up) await stop()
      else if (!wasUp && knobs.up) await listen()
    },
    window(seconds) {
      const from = Math.floor(Date.now() / 1000) - seconds
      const recent = buckets.filter((b) => b.second > from)
      const latencies = recent.flatMap((b) => b.latencies).sort((a, b) => a - b)
      const p95 = latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(0.95 * latencies.length) - 1)] : undefined
      return {requests: recent.reduce((a, b) => a + b.requests, 0), errors: recent.reduce((a, b) => a + b.errors, 0), p95Ms: p95}
    },
    resetStats() {
      buckets.length = 0
      totals.requests = 0
      totals.errors = 0
    },
    async close() {
      if (server.listening) await stop()
    },
  }
}
