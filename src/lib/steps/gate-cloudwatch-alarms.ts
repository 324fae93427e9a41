/**
 * `gate-cloudwatch-alarms`: none of the named CloudWatch alarms may be in ALARM, optionally
 * watched over a bake time. An alarm that does not exist is an error (NOT_FOUND): a typo in an
 * alarm name must not read as "all quiet". INSUFFICIENT_DATA is no data, which fails unless
 * `allowInsufficientData` (a fresh alarm, or a metric that only reports on errors).
 * CloudWatch not answering (after the SDK's retries) is no data too.
 *
 * The AWS SDK is imported inside run only, so planning and other kinds never load it.
 */
import {z} from 'zod'
import {awsClient, awsErrorName} from '../aws/clients.js'
import {errorMessage} from '../errors.js'
import {formatDuration} from '../util/duration.js'
import {failGate, GATE_FAILED, ms, NO_DATA, NOT_FOUND, watch, watchInputs, watchText} from './gate-common.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  /** Alarm names; default: the environment's cloudwatch.alarms. */
  alarms: z.array(z.string().min(1).max(255)).optional(),
  allowInsufficientData: z.boolean().default(false),
  ...watchInputs('30s'),
})
type Inputs = z.output<typeof inputs>

interface AlarmState {
  name: string
  type: 'metric' | 'composite'
  state: string
  reason?: string
  updatedAt?: string
}

function alarmNames(ctx: StepContext, i: Inputs): string[] {
  return [...new Set(i.alarms ?? ctx.environment?.cloudwatch?.alarms ?? [])]
}

/** DescribeAlarms for the names, 100 at a time (the API's limit), following NextToken. */
async function describe(ctx: StepContext, names: string[]): Promise<Map<string, AlarmState>> {
  const cw = await awsClient('cloudwatch', ctx.environment)
  const {DescribeAlarmsCommand} = await import('@aws-sdk/client-cloudwatch')
  const found = new Map<string, AlarmState>()
  for (let k = 0; k < names.length; k += 100) {
    let token: string | undefined
    do {
      // Without AlarmTypes, AWS returns metric alarms only, and a composite alarm would look missing.
      const r = await cw.send(new DescribeAlarmsCommand({AlarmNames: names.slice(k, k + 100), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: 100, NextToken: token}), {
        abortSignal: ctx.signal,
      })
      for (const a of r.MetricAlarms ?? [])
        if (a.AlarmName)
          found.set(a.AlarmName, {name: a.AlarmName, type: 'metric', state: a.StateValue ?? 'UNKNOWN', reason: a.StateReason, updatedAt: a.StateUpdatedTimestamp?.toISOString()})
      for (const a of r.CompositeAlarms ?? [])
        if (a.AlarmName)
          found.set(a.AlarmName, {name: a.AlarmName, type: 'composite', state: a.StateValue ?? 'UNKNOWN', reason: a.StateReason, updatedAt: a.StateUpdatedTimestamp?.toISOString()})
      token = r.NextToken
    } while (token)
  }
  return found
}

export default defineStep({
  kind: 'gate-cloudwatch-alarms',
  description: 'CloudWatch alarms not in ALARM (missing alarm = error; INSUFFICIENT_DATA = no data, fails unless allowed), optionally over a bake time',
  needs: ['aws'],
  inputs,
  mutates: () => false,
  title: (i) => `CloudWatch alarms gate${i.alarms ? ` (${i.alarms.length})` : ''}`,

  async plan(ctx, i) {
    const names = alarmNames(ctx, i)
    const d = ms(i.duration)
    const interval = ms(i.interval, 30_000)
    if (names.length === 0) {
      return {
        summary: 'no CloudWatch alarms named (with.alarms or cloudwatch.alarms): this gate will fail with no data',
        changes: [{action: 'check', target: 'cloudwatch', detail: 'no alarms: fails'}],
        estimateMs: 0,
      }
    }
    const insufficient = i.allowInsufficientData ? 'INSUFFICIENT_DATA allowed' : 'INSUFFICIENT_DATA fails'
    return {
      summary: `${names.length} CloudWatch alarm(s) not in ALARM (${insufficient}), ${watchText(d, interval)}: ${names.join(', ')}`,
      changes: names.map((n) => ({action: 'check' as const, target: `alarm ${n}`, detail: 'not in ALARM'})),
      estimateMs: d,
      worstCaseMs: d + 60_000,
    }
  },

  async warmup(ctx) {
    await Promise.all([awsClient('cloudwatch', ctx.environment), import('@aws-sdk/client-cloudwatch')])
  },

  async run(ctx, i) {
    const names = alarmNames(ctx, i)
    const d = ms(i.duration)
    const interval = ms(i.interval, 30_000)
    let alarms: AlarmState[] = []
    let n = 0
    const evidence = () => ({region: ctx.environment?.aws?.region, alarms, evaluations: n})
    if (names.length === 0)
      return failGate(ctx, 'no data: no CloudWatch alarms to check; name them in with.alarms or in cloudwatch.alarms of clipper-ops.yaml', evidence(), NO_DATA)

    ctx.log(`${names.length} alarm(s), ${watchText(d, interval)}`)
    await watch(ctx, d, interval, async (round) => {
      n = round
      let found: Map<string, AlarmState>
      try {
        found = await describe(ctx, names)
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason
        return failGate(ctx, `no data: could not read CloudWatch alarms: ${awsErrorName(error)}: ${errorMessage(error)}`, evidence(), NO_DATA)
      }
      alarms = names.flatMap((name) => found.get(name) ?? [])
      const missing = names.filter((name) => !found.has(name))
      const alarming = alarms.filter((a) => a.state === 'ALARM')
      const insufficient = i.allowInsufficientData ? [] : alarms.filter((a) => a.state === 'INSUFFICIENT_DATA')
      ctx.log(`evaluation ${round}: ${alarms.map((a) => `${a.name} ${a.state}`).join(', ') || 'no alarms found'}`)

      // Every problem goes into the message; the code is the most serious one's.
      const problems: string[] = []
      if (alarming.length)
        problems.push(
          `${alarming.length} of ${names.length} alarm(s) in ALARM: ${alarming.map((a) => `${a.name} (${a.reason ?? 'no reason given'}, since ${a.updatedAt ?? '?'})`).join('; ')}`,
        )
      if (missing.length) problems.push(`alarm(s) not found in ${ctx.environment?.aws?.region ?? 'the region'}: ${missing.join(', ')}`)
      if (insufficient.length) problems.push(`no data: ${insufficient.map((a) => `${a.name} is INSUFFICIENT_DATA (${a.reason ?? 'no reason given'})`).join('; ')}`)
      if (problems.length) {
        const code = alarming.length ? GATE_FAILED : missing.length ? NOT_FOUND : NO_DATA
        return failGate(ctx, `${problems.join('; ')} (evaluation ${round})`, evidence(), code)
      }
    })
    const states = alarms.map((a) => `${a.name} ${a.state}`).join(', ')
    const summary = `${alarms.length} alarm(s) not in ALARM in ${n} evaluation(s)${d ? ` over ${formatDuration(d)}` : ''}: ${states}`
    return {summary, outputs: evidence(), changes: [{action: 'check', target: 'cloudwatch alarms', detail: summary}]}
  },
})
