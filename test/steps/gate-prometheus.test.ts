/** gate-prometheus against the sandbox's Prometheus stand-in, and the stand-in's own wire format. */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {normalizeQuery, sandboxQueries, startPrometheusStandIn, type PrometheusStandIn, type SeriesValues} from '../../packages/sandbox/src/prometheus.js'
import {freePort} from '../../packages/sandbox/src/aws-front/moto.js'
import {kindWith, makeContext, runFails} from './context.js'

const k8s = sandboxQueries('kubernetes')
const legacy = sandboxQueries('legacy')
let values: SeriesValues = {}
let prom: PrometheusStandIn

beforeAll(async () => {
  prom = await startPrometheusStandIn({series: () => values})
})
afterAll(async () => {
  await prom?.close()
})

const env = () => ({slos: {errorRate: '0.1%', p95: '200ms'}, prometheus: {url: prom.url}})

describe('Prometheus stand-in', () => {
  it('answers a known query with a one-sample vector, an unknown one with an empty vector', async () => {
    values = {[k8s.errorRatio]: 0.0004}
    // Different whitespace, same query.
    const q = k8s.errorRatio.replace(' / ', '/').replace('sum(rate(', 'sum( rate(')
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`)
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({status: 'success', data: {resultType: 'vector', result: [{metric: {}, value: [expect.any(Number), '0.0004']}]}})
    const none = await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('up{job="nothing"}')}`)).json()
    expect(none).toEqual({status: 'success', data: {resultType: 'vector', result: []}})
    expect(await (await fetch(`${prom.url}/-/ready`)).text()).toContain('Ready')
    expect((await fetch(`${prom.url}/api/v1/query_range`)).status).toBe(404)
  })

  it('takes POSTed form parameters, as clients send long queries', async () => {
    values = {[legacy.requestRate]: 12.5}
    const res = await fetch(`${prom.url}/api/v1/query`, {method: 'POST', body: new URLSearchParams({query: legacy.requestRate})})
    expect(((await res.json()) as any).data.result[0].value[1]).toBe('12.5')
  })

  it('answers a malformed query as Prometheus does: HTTP 400, bad_data', async () => {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('sum(rate(x[1m])')}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:4: parse error: unclosed left parenthesis'})
    const empty = await fetch(`${prom.url}/api/v1/query?query=`)
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as any).error).toContain('no expression found in input')
  })

  it('normalises whitespace outside string literals only', () => {
    expect(normalizeQuery('sum by (le) ( rate(x{a="b  c"}[1m]) )')).toBe('sum by(le)(rate(x{a="b  c"}[1m]))')
    expect(normalizeQuery('a  /  b')).toBe(normalizeQuery('a/b'))
    expect(normalizeQuery('a or b')).not.toBe(normalizeQuery('aorb'))
  })
})

describe('gate-prometheus', () => {
  it('passes when every sample is within the threshold; plan calls nothing', async () => {
    values = {[k8s.errorRatio]: 0.0004}
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.errorRatio, slo: 'errorRate', name: 'kubernetes 5xx ratio'})
    const ctx = makeContext({environment: env()})
    const before = prom.requestLog.length
    const plan = await kind.plan(ctx, inputs)
    expect(plan.summary).toContain('kubernetes 5xx ratio')
    expect(plan.summary).toContain('≤ 0.001')
    expect(prom.requestLog.length).toBe(before)

    const r = await kind.run(ctx, inputs)
    expect(r.outputs).toMatchObject({url: prom.url, query: k8s.errorRatio, max: 0.001, evaluations: 1, samples: [{labels: {}, value: 0.0004}]})
    expect(r.summary).toContain('0.0004 ≤ 0.001')
  })

  it('fails over the threshold and gives the number', async () => {
    values = {[k8s.p95Seconds]: 0.35}
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.p95Seconds, slo: 'p95'})
    const ctx = makeContext({environment: env()})
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('the series = 0.35, outside ≤ 0.2 (1 of 1 series, evaluation 1')
    expect(err.message).toContain('the query looks back 1m, so what happened up to 1m ago still counts')
    expect(err.message).not.toContain('{}')
    expect(err.details).toMatchObject({max: 0.2, worst: {value: 0.35}})
    expect(ctx.notes[0]).toMatchObject({gate: {verdict: 'fail'}})
  })

  it('checks a minimum too (traffic must actually reach the stack)', async () => {
    values = {[k8s.requestRate]: 0.2}
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.requestRate, min: 1})
    expect((await runFails(kind, makeContext({environment: env()}), inputs)).message).toContain('the series = 0.2, outside ≥ 1')
  })

  it('calls an empty result and NaN "no data"', async () => {
    values = {[k8s.errorRatio]: undefined, [legacy.errorRatio]: Number.NaN}
    const empty = await kindWith('gate-prometheus', {query: k8s.errorRatio, max: 0.001})
    const e1 = await runFails(empty.kind, makeContext({environment: env()}), empty.inputs)
    expect(e1.code).toBe('NO_DATA')
    expect(e1.message).toContain('returned no series')
    const nan = await kindWith('gate-prometheus', {query: legacy.errorRatio, max: 0.001})
    const e2 = await runFails(nan.kind, makeContext({environment: env()}), nan.inputs)
    expect(e2.code).toBe('NO_DATA')
    expect(e2.message).toContain('is NaN')
  })

  it("reports a query Prometheus rejects as BAD_QUERY, with Prometheus' words", async () => {
    const {kind, inputs} = await kindWith('gate-prometheus', {query: 'sum(rate(x[1m]', max: 1})
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('BAD_QUERY')
    expect(err.message).toContain('bad_data: invalid parameter "query"')
  })

  it('calls an unreachable Prometheus "no data"', async () => {
    const port = await freePort()
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.errorRatio, max: 0.001, url: `http://127.0.0.1:${port}`})
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('did not answer: ECONNREFUSED')
  })

  it('evaluates repeatedly over a duration and fails when the value goes bad mid-window', async () => {
    values = {[k8s.errorRatio]: 0.0001}
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.errorRatio, max: 0.001, duration: '2s', interval: '100ms'})
    setTimeout(() => (values = {[k8s.errorRatio]: 0.02}), 350)
    const started = Date.now()
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(Date.now() - started).toBeLessThan(1500)
    expect(err.message).toContain('the series = 0.02')
    expect(err.details.evaluations).toBeGreaterThanOrEqual(3)
  })

  it('passes a whole window, the last evaluation at its end', async () => {
    values = {[k8s.errorRatio]: 0}
    const {kind, inputs} = await kindWith('gate-prometheus', {query: k8s.errorRatio, max: 0.001, duration: '400ms', interval: '100ms'})
    const started = Date.now()
    const r = await kind.run(makeContext({environment: env()}), inputs)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    expect(r.outputs!.evaluations).toBeGreaterThanOrEqual(5)
  })

  it('needs a threshold and a URL', async () => {
    await expect(kindWith('gate-prometheus', {query: 'up'})).rejects.toThrow('give max, min or slo')
    const {kind, inputs} = await kindWith('gate-prometheus', {query: 'up', max: 1})
    await expect(kind.run(makeContext({environment: {}}), inputs)).rejects.toThrow('no Prometheus URL')
  })
})
