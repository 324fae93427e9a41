/**
 * The sandbox's stand-in for "the public name": an HTTP endpoint that behaves like the clients
 * of clpr.tv. It resolves the weighted records as a resolver would (reading them from Route 53,
 * i.e. moto, and keeping the answer for the record's TTL), picks a stack by weight for each
 * request, and forwards the request there. So a weight change reaches traffic only after
 * INSYNC and the TTL, as it does for real users, and gates measure what users would see.
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import {listen} from './listen.js'
import type {Stack} from './stacks.js'

export interface RouterTarget {
  setIdentifier: string
  stack: Stack
  /** Seconds a resolver keeps this record's answer (the record's TTL; an alias target's own TTL). */
  ttlSeconds?: number
}

export interface Router {
  url: string
  port: number
  /** The weights the "resolver" currently holds, and until when. */
  view(): {weights: Record<string, number>; expiresAt: number; fetchedAt: number}
  /** Forget the cached answer (sandbox reset). */
  flush(): void
  close(): Promise<void>
}

export interface RouterOptions {
  motoUrl: string
  region: string
  zoneId: () => string
  recordName: string
  recordType: string
  targets: RouterTarget[]
  port?: number
  host?: string
}

export async function startRouter(o: RouterOptions): Promise<Router> {
  const {Route53Client, ListResourceRecordSetsCommand} = await import('@aws-sdk/client-route-53')
  const r53 = new Route53Client({region: o.region, endpoint: o.motoUrl, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
  let cache: {weights: Record<string, number>; expiresAt: number; fetchedAt: number} = {weights: {}, expiresAt: 0, fetchedAt: 0}
  let refreshing: Promise<void> | undefined

  const refresh = async () => {
    // The answer is as old as the question: it may predate a change made while it was in flight.
    const asked = Date.now()
    const name = o.recordName.endsWith('.') ? o.recordName : `${o.recordName}.`
    const r = await r53.send(new ListResourceRecordSetsCommand({HostedZoneId: o.zoneId(), StartRecordName: name, StartRecordType: o.recordType as never, MaxItems: 20}))
    const weights: Record<string, number> = {}
    let ttl = 60
    for (const rr of r.ResourceRecordSets ?? []) {
      if ((rr.Name ?? '').toLowerCase() !== name.toLowerCase() || rr.Type !== o.recordType) continue
      if (rr.SetIdentifier === undefined) continue
      weights[rr.SetIdentifier] = rr.Weight ?? 0
      const target = o.targets.find((t) => t.setIdentifier === rr.SetIdentifier)
      ttl = Math.min(ttl, rr.TTL ?? target?.ttlSeconds ?? 60)
    }
    cache = {weights, expiresAt: asked + ttl * 1000, fetchedAt: asked}
  }

  // A resolver never answers from a record older than its TTL; like resolvers that prefetch,
  // it asks again in the background once half the TTL has passed, so that traffic rarely waits
  // for a lookup (and a slow moto does not look like slow stacks).
  const resolve = async (): Promise<Record<string, number>> => {
    const now = Date.now()
    if (now >= cache.expiresAt) {
      refreshing ??= refresh().finally(() => (refreshing = undefined))
      await refreshing
    } else if (now >= (cache.fetchedAt + cache.expiresAt) / 2 && !refreshing) {
      refreshing = refresh()
        .catch(() => undefined)
        .finally(() => (refreshing = undefined))
    }
    return cache.weights
  }

  const pick = (weights: Record<string, number>): RouterTarget | undefined => {
    const live = o.targets.filter((t) => t.setIdentifier in weights)
    if (live.length === 0) return undefined
    const total = live.reduce((a, t) => a + weights[t.setIdentifier]!, 0)
    // Route 53: weight 0 is served only when all are 0, and then traffic splits equally.
    if (total === 0) return live[Math.floor(Math.random() * live.length)]
    let x = Math.random() * total
    for (const t of live) {
      x -= weights[t.setIdentifier]!
      if (x < 0) return t
    }
    return live.at(-1)
  }

  const server = http.createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let weights: Record<string, number>
    try {
      weights = await resolve()
    } catch (error) {
      req.resume()
      res.writeHead(502, {'content-type': 'text/plain'})
      res.end(`sandbox router: the DNS answer could not be read: ${(error as Error).message}\n`)
      return
    }
    const target = pick(weights)
    if (!target) {
      req.resume()
      res.writeHead(502, {'content-type': 'text/plain'})
      res.end(`sandbox router: no record answers for ${o.recordName}\n`)
      return
    }
    const upstream = http.request({host: '127.0.0.1', port: target.stack.port, path: req.url, method: req.method, headers: {...req.headers, host: o.recordName}}, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', (e: NodeJS.ErrnoException) => {
      // What a user meets when the record points at a host that is down.
      if (!res.headersSent) res.writeHead(502, {'content-type': 'text/plain', 'x-served-by': `${target.stack.name} (unreachable)`})
      res.end(`sandbox router: ${target.stack.name} stack unreachable: ${e.code ?? e.message}\n`)
    })
    req.pipe(upstream)
  })
  server.keepAliveTimeout = 5000
  const {port, url} = await listen(server, o.port, o.host ?? '127.0.0.1')
  return {
    url,
    port,
    view: () => ({...cache}),
    flush: () => void (cache = {weights: {}, expiresAt: 0, fetchedAt: 0}),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
        r53.destroy()
      }),
  }
}
