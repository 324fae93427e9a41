/** gate-http against small local HTTP servers: error rate, latency, header, down, fail-fast, abort. */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, describe, expect, it} from 'vitest'
import {freePort} from '../../packages/sandbox/src/aws-front/moto.js'
import {kindWith, makeContext, runFails} from './context.js'

interface Behaviour {
  status?: number
  delayMs?: number
  servedBy?: string
}

const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

/** A server whose n-th answer (0-based) follows `behave(n)`. */
async function serve(behave: (n: number) => Behaviour): Promise<{url: string; count: () => number}> {
  let n = 0
  const server = createServer((req, res) => {
    const b = behave(n++)
    setTimeout(() => {
      res.writeHead(b.status ?? 200, {'content-type': 'text/plain', ...(b.servedBy && {'x-served-by': b.servedBy})})
      res.end('ok\n')
    }, b.delayMs ?? 0)
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, count: () => n}
}

// A generous p95: these tests are about the window, the header and no-data, and must not flake
// on a busy two-core machine. The latency test sets its own threshold.
const env = {slos: {errorRate: '0.1%', p95: '2s'}}

describe('gate-http', () => {
  it('passes a healthy URL over the window, with the evidence in its outputs', async () => {
    const srv = await serve(() => ({servedBy: 'kubernetes'}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, duration: '300ms', interval: '100ms', requestsPerRound: 5})
    const ctx = makeContext({environment: env})
    const plan = await kind.plan(ctx, inputs)
    expect(plan.summary).toContain('15 × GET')
    expect(plan.summary).toContain('error rate ≤ 0.1%')
    expect(plan.summary).toContain('p95 ≤ 2s')
    expect(srv.count()).toBe(0) // planning calls nothing
    expect(kind.mutates(inputs)).toBe(false)

    const r = await kind.run(ctx, inputs)
    expect(r.outputs).toMatchObject({
      requests: 15,
      plannedRequests: 15,
      rounds: 3,
      responses: 15,
      errors: 0,
      errorRate: 0,
      servedBy: {kubernetes: 15},
      maxErrorRate: 0.001,
      maxP95Ms: 2000,
      failedFast: false,
    })
    expect(r.outputs!.p95Ms).toBeLessThan(2000)
    expect(r.outputs!.elapsedMs).toBeGreaterThanOrEqual(190) // the rounds are spread over the window
    expect(r.summary).toMatch(/15 requests in 3 round\(s\), 0 errors .*served by kubernetes 15/)
    expect(ctx.logs.some((l) => l.startsWith('round 3/3'))).toBe(true)
  })

  it('fails on the error rate over the whole window and says by how much', async () => {
    const srv = await serve((n) => ({status: n % 10 === 9 ? 503 : 200})) // 10 %
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, duration: '200ms', interval: '100ms', requestsPerRound: 10, failFast: false})
    const ctx = makeContext({environment: env})
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('error rate 10% (2 of 20) is above 0.1% (HTTP 503)')
    expect(err.details).toMatchObject({requests: 20, errors: 2, statuses: {200: 18, 503: 2}})
    // The evidence is noted for the journal (the engine journals a failure's message and code only).
    expect(ctx.notes[0]).toMatchObject({gate: {verdict: 'fail', code: 'GATE_FAILED', evidence: {errors: 2}}})
  })

  it('passes the same error rate under a looser threshold given as a percentage', async () => {
    const srv = await serve((n) => ({status: n % 10 === 9 ? 500 : 200}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, requestsPerRound: 20, maxErrorRate: '15%'})
    const r = await kind.run(makeContext({environment: env}), inputs)
    expect(r.outputs).toMatchObject({requests: 20, errors: 2, errorRate: 0.1})
  })

  it('fails on p95 latency above the SLO', async () => {
    const srv = await serve(() => ({delayMs: 80}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, requestsPerRound: 8, concurrency: 8, maxP95: '40ms'})
    const err = await runFails(kind, makeContext({environment: env}), inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toMatch(/p95 latency \d+(\.\d)?ms is above 40ms/)
    expect(err.details.p95Ms).toBeGreaterThanOrEqual(80)
  })

  it('checks a header on every answer (a rollback proving legacy serves), with minShare variants', async () => {
    const k8s = await serve(() => ({servedBy: 'kubernetes'}))
    const legacy = await serve(() => ({servedBy: 'legacy'}))
    const mixed = await serve((n) => ({servedBy: n % 2 ? 'legacy' : 'kubernetes'}))
    const expectHeader = {name: 'X-Served-By', value: 'legacy'}
    const ctx = () => makeContext({environment: env})

    const ok = await kindWith('gate-http', {url: legacy.url, requestsPerRound: 6, expectHeader})
    expect((await ok.kind.run(ctx(), ok.inputs)).outputs).toMatchObject({header: {name: 'X-Served-By', value: 'legacy', matching: 6, share: 1, minShare: 1}})

    const wrong = await kindWith('gate-http', {url: k8s.url, requestsPerRound: 6, expectHeader})
    const err = await runFails(wrong.kind, ctx(), wrong.inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('0 of 6 answers carried X-Served-By: legacy, below 100% (seen kubernetes: 6)')

    const half = await kindWith('gate-http', {url: mixed.url, requestsPerRound: 10, concurrency: 1, expectHeader: {...expectHeader, minShare: 0.4}})
    expect((await half.kind.run(ctx(), half.inputs)).outputs).toMatchObject({header: {matching: 5, share: 0.5}})
    const most = await kindWith('gate-http', {url: mixed.url, requestsPerRound: 10, concurrency: 1, expectHeader: {...expectHeader, minShare: '60%'}})
    expect((await runFails(most.kind, ctx(), most.inputs)).message).toContain('5 of 10 answers carried X-Served-By: legacy, below 60%')
  })

  it('calls a URL that nobody answers "no data", not a pass', async () => {
    const port = await freePort()
    const {kind, inputs} = await kindWith('gate-http', {url: `http://127.0.0.1:${port}/health`, requestsPerRound: 4, failFast: false})
    const err = await runFails(kind, makeContext({environment: env}), inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('no data: none of 4 requests')
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.details).toMatchObject({requests: 4, responses: 0, errors: 4})
  })

  it('a URL answering only 5xx is data: it fails on the error rate (not NO_DATA)', async () => {
    const srv = await serve(() => ({status: 502}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, requestsPerRound: 4})
    const err = await runFails(kind, makeContext({environment: env}), inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('error rate 100% (4 of 4)')
  })

  it('fails fast once the window can no longer pass, long before the bake time is over', async () => {
    const srv = await serve((n) => ({status: n % 2 ? 500 : 200}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, duration: '20s', interval: '100ms', requestsPerRound: 5, minRequests: 10})
    const started = Date.now()
    const err = await runFails(kind, makeContext({environment: env}), inputs)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toMatch(/after 10 of 1000 requests \(stopped early: 5 error\(s\) so far, more than the 1 that 0.1% of the window's 1000 requests allows\)/)
    expect(err.details).toMatchObject({failedFast: true, rounds: 2, plannedRounds: 200})
  })

  it('fails fast with NO_DATA when the URL is down from the start', async () => {
    const port = await freePort()
    const {kind, inputs} = await kindWith('gate-http', {url: `http://127.0.0.1:${port}/`, duration: '20s', interval: '100ms', requestsPerRound: 5, minRequests: 5})
    const started = Date.now()
    const err = await runFails(kind, makeContext({environment: env}), inputs)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(err.code).toBe('NO_DATA')
    expect(err.details).toMatchObject({failedFast: true, responses: 0})
  })

  it('stops promptly when the run is aborted', async () => {
    const srv = await serve(() => ({}))
    const {kind, inputs} = await kindWith('gate-http', {url: srv.url, duration: '30s', interval: '1s', requestsPerRound: 2})
    const ac = new AbortController()
    setTimeout(() => ac.abort(new Error('interrupted by the operator')), 300)
    const started = Date.now()
    await expect(kind.run(makeContext({environment: env, signal: ac.signal}), inputs)).rejects.toThrow('interrupted by the operator')
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('rejects inputs that make no sense', async () => {
    await expect(kindWith('gate-http', {url: 'ftp://x'})).rejects.toThrow(/with.url/)
    await expect(kindWith('gate-http', {url: 'http://x', maxErrorRate: '120%'})).rejects.toThrow(/with.maxErrorRate/)
    await expect(kindWith('gate-http', {url: 'http://x', expectHeader: {name: 'bad header', value: 'x'}})).rejects.toThrow(/with.expectHeader.name/)
  })
})
