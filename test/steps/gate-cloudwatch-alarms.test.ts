/** gate-cloudwatch-alarms against moto through the sandbox's AWS front, with the real SDK. */
import {CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand, type StateValue} from '@aws-sdk/client-cloudwatch'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CREDENTIALS, REGION, startSandbox, type Sandbox} from '../../packages/sandbox/test/aws-helpers.js'
import {kindWith, makeContext, runFails} from './context.js'

let sb: Sandbox
let cw: CloudWatchClient
const saved = {id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE}

beforeAll(async () => {
  // The client factory uses the standard provider chain: credentials come from the environment.
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey
  delete process.env.AWS_PROFILE
  sb = await startSandbox()
  cw = new CloudWatchClient(sb.client)
  for (const name of ['api-5xx', 'api-latency', 'db-cpu', 'queue-age']) {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        MetricName: name,
        Namespace: 'Clipper',
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    )
  }
})

afterAll(async () => {
  await sb?.stop()
  for (const [k, v] of [
    ['AWS_ACCESS_KEY_ID', saved.id],
    ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ['AWS_PROFILE', saved.profile],
  ] as const) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

const env = (alarms?: string[]) => ({aws: {region: REGION, endpoint: sb.front.url}, ...(alarms && {cloudwatch: {alarms}})})
const setState = (name: string, state: StateValue, reason = `test set ${state}`) => cw.send(new SetAlarmStateCommand({AlarmName: name, StateValue: state, StateReason: reason}))

describe('gate-cloudwatch-alarms', () => {
  it('passes when no alarm is in ALARM, reading only; plan calls nothing', async () => {
    for (const n of ['api-5xx', 'api-latency', 'db-cpu']) await setState(n, 'OK')
    const {kind, inputs} = await kindWith('gate-cloudwatch-alarms', {})
    const ctx = makeContext({environment: env(['api-5xx', 'api-latency', 'db-cpu'])})
    const from = sb.front.requestLog.length
    const plan = await kind.plan(ctx, inputs)
    expect(plan.summary).toContain('3 CloudWatch alarm(s) not in ALARM (INSUFFICIENT_DATA fails), once: api-5xx, api-latency, db-cpu')
    expect(sb.front.requestLog.length).toBe(from)

    const r = await kind.run(ctx, inputs)
    expect(r.outputs).toMatchObject({
      region: REGION,
      evaluations: 1,
      alarms: [
        {name: 'api-5xx', state: 'OK'},
        {name: 'api-latency', state: 'OK'},
        {name: 'db-cpu', state: 'OK'},
      ],
    })
    const calls = sb.front.requestLog.slice(from)
    expect(calls.map((c) => c.operation)).toEqual(['DescribeAlarms'])
    expect(calls.every((c) => !c.mutating)).toBe(true)
  })

  it('fails when an alarm is in ALARM, naming it with its StateReason', async () => {
    await setState('api-5xx', 'ALARM', 'Threshold Crossed: 1 datapoint [4.2] was greater than the threshold (1.0).')
    const {kind, inputs} = await kindWith('gate-cloudwatch-alarms', {alarms: ['api-5xx', 'api-latency']})
    const ctx = makeContext({environment: env()})
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('1 of 2 alarm(s) in ALARM: api-5xx (Threshold Crossed: 1 datapoint [4.2] was greater than the threshold (1.0).')
    expect(err.details.alarms).toEqual(expect.arrayContaining([expect.objectContaining({name: 'api-5xx', state: 'ALARM'})]))
    expect(ctx.notes[0]).toMatchObject({gate: {verdict: 'fail'}})
    await setState('api-5xx', 'OK')
  })

  it('calls an alarm that does not exist an error, and names it', async () => {
    const {kind, inputs} = await kindWith('gate-cloudwatch-alarms', {alarms: ['api-5xx', 'api-5xxx']})
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('NOT_FOUND')
    expect(err.message).toContain(`alarm(s) not found in ${REGION}: api-5xxx`)
  })

  it('treats INSUFFICIENT_DATA as no data unless allowed', async () => {
    await setState('queue-age', 'INSUFFICIENT_DATA', 'Insufficient Data: 1 datapoint was unknown.')
    const strict = await kindWith('gate-cloudwatch-alarms', {alarms: ['queue-age']})
    const err = await runFails(strict.kind, makeContext({environment: env()}), strict.inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('queue-age is INSUFFICIENT_DATA (Insufficient Data: 1 datapoint was unknown.)')
    const lenient = await kindWith('gate-cloudwatch-alarms', {alarms: ['queue-age'], allowInsufficientData: true})
    expect((await lenient.kind.run(makeContext({environment: env()}), lenient.inputs)).outputs).toMatchObject({alarms: [{name: 'queue-age', state: 'INSUFFICIENT_DATA'}]})
  })

  it('watches over a duration and fails when an alarm fires mid-bake', async () => {
    await setState('db-cpu', 'OK')
    const {kind, inputs} = await kindWith('gate-cloudwatch-alarms', {alarms: ['db-cpu'], duration: '5s', interval: '200ms'})
    setTimeout(() => void setState('db-cpu', 'ALARM', 'Threshold Crossed: CPU 97%'), 400)
    const started = Date.now()
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(err.message).toContain('db-cpu (Threshold Crossed: CPU 97%')
    expect(err.details.evaluations).toBeGreaterThanOrEqual(2)
    await setState('db-cpu', 'OK')
  })

  it('with no alarms named anywhere: no data, not a pass', async () => {
    const {kind, inputs} = await kindWith('gate-cloudwatch-alarms', {})
    const ctx = makeContext({environment: env()})
    expect((await kind.plan(ctx, inputs)).summary).toContain('will fail with no data')
    const err = await runFails(kind, ctx, inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('no CloudWatch alarms to check')
  })
})
