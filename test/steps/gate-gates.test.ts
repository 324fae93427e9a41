/** `gates`: several gates at once over a shared bake time, every result reported with its evidence. */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {sandboxQueries, startPrometheusStandIn, type PrometheusStandIn, type SeriesValues} from '../../packages/sandbox/src/prometheus.js'
import {kindWith, makeContext, runFails} from './context.js'

const q = sandboxQueries('kubernetes')
let values: SeriesValues = {}
let prom: PrometheusStandIn
let web: Server
let url: string

beforeAll(async () => {
  prom = await startPrometheusStandIn({series: () => values})
  web = createServer((_req, res) => {
    res.writeHead(200, {'x-served-by': 'kubernetes'})
    res.end('ok')
  })
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/health`
})
afterAll(async () => {
  await prom?.close()
  web?.closeAllConnections()
  await new Promise((r) => web?.close(r))
})

const env = () => ({slos: {errorRate: '0.1%', p95: '2s'}, prometheus: {url: prom.url}})
const httpGate = () => ({id: 'http', uses: 'gate-http', with: {url, interval: '100ms', requestsPerRound: 3}})
const promGate = () => ({id: 'errors', uses: 'gate-prometheus', with: {query: q.errorRatio, slo: 'errorRate', interval: '100ms'}})

describe('gates', () => {
  it('passes when every gate passes; the shared duration reaches each gate and they run at once', async () => {
    values = {[q.errorRatio]: 0}
    const {kind, inputs} = await kindWith('gates', {gates: [httpGate(), promGate()], duration: '1s'})
    const ctx = makeContext({environment: env()})
    const plan = await kind.plan(ctx, inputs)
    expect(plan.summary).toMatch(/^2 gate\(s\) at once over 1s: http: 30 × GET .*; errors: .*≤ 0.001, over 1s, every 100ms/)
    expect(plan.changes.map((c) => c.detail)).toEqual([expect.stringMatching(/^\[http\]/), expect.stringMatching(/^\[errors\]/)])
    expect(plan.estimateMs).toBeLessThan(1500)

    const r = await kind.run(ctx, inputs)
    // At once, not one after the other: each gate logs before the other has finished.
    const firstOf = (p: string) => ctx.logs.findIndex((l) => l.startsWith(p))
    const lastOf = (p: string) => ctx.logs.findLastIndex((l) => l.startsWith(p))
    expect(firstOf('[errors] evaluation')).toBeLessThan(lastOf('[http] round'))
    expect(firstOf('[http] round')).toBeLessThan(lastOf('[errors] evaluation'))
    expect(r.summary).toBe('all 2 gate(s) passed: http, errors')
    const gates = (r.outputs as {gates: any[]}).gates
    expect(gates).toMatchObject([
      {id: 'http', uses: 'gate-http', result: 'pass', evidence: {plannedRounds: 10, requests: 30, errors: 0}},
      {id: 'errors', uses: 'gate-prometheus', result: 'pass', evidence: {max: 0.001, samples: [{value: 0}]}},
    ])
    expect(gates[1].evidence.evaluations).toBeGreaterThanOrEqual(2) // evaluated again and again over the window
    expect(ctx.logs.some((l) => l.startsWith('[http] round'))).toBe(true)
    expect(ctx.logs.some((l) => l.startsWith('[errors] evaluation'))).toBe(true)
  })

  it('one gate failing: both results are reported, each with its evidence (failFast off)', async () => {
    values = {[q.errorRatio]: 0.05}
    const {kind, inputs} = await kindWith('gates', {gates: [httpGate(), promGate()], duration: '400ms', failFast: false})
    const ctx = makeContext({environment: env()})
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toMatch(/^1 of 2 gate\(s\) did not pass:\n {2}errors \(gate-prometheus\) fail: .*the series = 0.05, outside ≤ 0.001/)
    expect(err.details.gates).toMatchObject([
      {id: 'http', result: 'pass', evidence: {requests: 12, errors: 0}},
      {id: 'errors', result: 'fail', code: 'GATE_FAILED', evidence: {worst: {value: 0.05}, max: 0.001}},
    ])
    // The whole verdict is noted for the journal, once.
    expect(ctx.notes).toHaveLength(1)
    expect((ctx.notes[0] as any).gate.evidence.gates).toHaveLength(2)
  })

  it('with failFast (the default), a failure stops the other gates at once; they are reported as stopped', async () => {
    values = {[q.errorRatio]: 0.05}
    const {kind, inputs} = await kindWith('gates', {gates: [httpGate(), promGate()], duration: '20s'})
    const started = Date.now()
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(err.details.gates).toMatchObject([
      {id: 'http', result: 'no-data', stopped: true, summary: expect.stringContaining('errors failed first')},
      {id: 'errors', result: 'fail'},
    ])
  })

  it('no data from the only failing gate makes the whole step NO_DATA', async () => {
    values = {}
    const {kind, inputs} = await kindWith('gates', {gates: [promGate()]})
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.details.gates).toMatchObject([{id: 'errors', result: 'no-data', code: 'NO_DATA'}])
  })

  it('rejects invalid gate inputs up front, naming each gate', async () => {
    const {kind, inputs} = await kindWith('gates', {
      gates: [
        {uses: 'gate-http', with: {url: 'not a url'}},
        {uses: 'gate-prometheus', with: {query: 'up'}},
        {uses: 'gate-htp', with: {}},
        {uses: 'exec', with: {command: 'true'}},
      ],
    })
    const ctx = makeContext({environment: env()})
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('BAD_INPUT')
    expect(err.message).toContain('gate 1 "gate-http" (gate-http): with.url')
    expect(err.message).toContain('gate 2 "gate-prometheus" (gate-prometheus): with: give max, min or slo')
    expect(err.message).toContain('gate 3 "gate-htp" (gate-htp): unknown step kind "gate-htp"')
    expect(err.message).toContain('gate 4 "exec" (exec): exec changes the world; a gate must only look')
    await expect(kind.plan(ctx, inputs)).rejects.toThrow('gate 1 "gate-http"')
  })

  it('an empty list fails (no gates, no evidence) unless allowEmpty', async () => {
    const empty = await kindWith('gates', {gates: []})
    const ctx = makeContext({environment: env()})
    expect((await empty.kind.plan(ctx, empty.inputs)).summary).toContain('will fail: no gates to run')
    const err = await runFails(empty.kind, ctx, empty.inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('no gates means no evidence')
    const allowed = await kindWith('gates', {gates: [], allowEmpty: true})
    expect((await allowed.kind.run(ctx, allowed.inputs)).outputs).toEqual({gates: []})
  })

  it('takes rollout.gates from clipper-ops.yaml as it is', async () => {
    const {environmentSchema} = await import('../../src/lib/config/schema.js')
    const environment = environmentSchema.parse({rollout: {gates: [{uses: 'gate-http', with: {url}}]}})
    const {kind, inputs} = await kindWith('gates', {gates: environment.rollout.gates, duration: '100ms'})
    expect(inputs.gates).toEqual([{uses: 'gate-http', with: {url}}])
    const r = await kind.run(makeContext({environment: env()}), inputs)
    expect((r.outputs as {gates: any[]}).gates[0]).toMatchObject({id: 'gate-http', result: 'pass'})
  })
})
