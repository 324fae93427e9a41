/**
 * `notify` against the sandbox's notification sink, which checks each payload as Slack's incoming
 * webhooks, PagerDuty's Events API v2 and a JSON webhook receiver do.
 *
 * In process: every provider's payload is taken, also at the services' limits; a sink that fails
 * costs a bounded number of tries and a warning, never the step; an attempt that hangs is cut off;
 * an interrupt is not swallowed; a dry run sends nothing and shows no secret.
 *
 * End to end, the built CLI on a sandbox: a rollout and a rollback deliver their notifications in
 * order, in each provider's shape, and no secret reaches the run's files or the output; a sink
 * that fails does not fail the rollback and says so; a failed gate sends its evidence and opens
 * the PagerDuty alert; the dry run lists the notifications and sends none.
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {NOTIFY_ENV, startWebhookSink, type Delivery, type WebhookSink} from '../../packages/sandbox/src/webhook-sink.js'
import notify from '../../src/lib/steps/notify.js'
import {readJournal, waitFor, waitForJournal} from '../helpers/cli.js'
import {WorldView} from '../chaos/world.js'
import {useSandbox} from '../helpers/sandbox.js'
import {startRunInBackground} from '../helpers/traffic.js'
import {makeContext, type TestContext} from './context.js'

function readDeliveries(file: string): Delivery[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Delivery)
  } catch {
    return []
  }
}

/** What the real services require of what they take, asserted on what the sink received. */
function expectSlackShape(body: any): void {
  expect(typeof body.text).toBe('string')
  expect(body.text.length).toBeGreaterThan(0)
  expect(Array.isArray(body.blocks)).toBe(true)
  expect(body.blocks.length).toBeLessThanOrEqual(50)
  for (const b of body.blocks) {
    expect(['section', 'context']).toContain(b.type)
    if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000)
    for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000)
    if (b.fields) expect(b.fields.length).toBeLessThanOrEqual(10)
  }
}

function expectPagerDutyShape(body: any, key: string, action: string, dedupKey: string): void {
  expect(body.routing_key).toBe(key)
  expect(body.routing_key).toMatch(/^[A-Za-z0-9]{32}$/)
  expect(body.event_action).toBe(action)
  expect(body.dedup_key).toBe(dedupKey)
  if (action === 'trigger') {
    expect(body.payload.summary.length).toBeGreaterThan(0)
    expect(body.payload.summary.length).toBeLessThanOrEqual(1024)
    expect(body.payload.source).toBe('clpr.tv')
    expect(['critical', 'error', 'warning', 'info']).toContain(body.payload.severity)
    expect(Number.isNaN(Date.parse(body.payload.timestamp))).toBe(false)
    expect(typeof body.payload.custom_details).toBe('object')
  } else expect(body.payload).toBeUndefined()
}

function expectWebhookShape(body: any): void {
  expect(Object.keys(body).sort()).toEqual(['at', 'details', 'environment', 'event', 'id', 'message', 'runId', 'runbook', 'severity'])
  expect(body.environment).toBe('sandbox')
  expect(Number.isNaN(Date.parse(body.at))).toBe(false)
}

describe('notify, in process, against the sink', () => {
  let dir: string
  let sink: WebhookSink
  const environment = () => ({
    dns: {
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      record: {name: 'clpr.tv'},
      targets: {legacy: {setIdentifier: 'compose', values: ['203.0.113.10']}, kubernetes: {setIdentifier: 'k8s', values: ['203.0.113.20']}},
    },
    notify: {slack: {webhookUrlEnv: NOTIFY_ENV.slack}, pagerduty: {routingKeyEnv: NOTIFY_ENV.pagerduty, url: sink.pagerdutyUrl}, webhook: {urlEnv: NOTIFY_ENV.webhook}},
  })
  const context = (o: {signal?: AbortSignal; stepId?: string; dryRun?: boolean; env?: Record<string, string>} = {}): TestContext => {
    const ctx = makeContext({environment: environment(), signal: o.signal, stepId: o.stepId ?? 'shift[50].notify', dryRun: o.dryRun})
    Object.assign(ctx.childEnv, o.env ?? sink.env)
    return ctx
  }
  const inputs = (raw: Record<string, unknown>) => notify.inputs.parse({event: 'rollout.failed', message: 'Rollout stopped', ...raw})
  const since = () => readDeliveries(sink.deliveriesFile).length
  const mine = (from: number) => readDeliveries(sink.deliveriesFile).slice(from)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'notify-'))
    sink = await startWebhookSink({deliveriesFile: join(dir, 'deliveries.jsonl')})
  })
  afterAll(async () => {
    await sink?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  test("every provider takes its payload, also at the services' limits, with the evidence of the step named", async () => {
    const ctx = context()
    // The run as the engine records it: a gates step that failed, its evidence noted.
    const gates = [
      {id: 'public-http', uses: 'gate-http', result: 'fail', summary: 'error rate 60% (6 of 10) is above 0.1%', evidence: {errors: 6}},
      {id: 'alarms', uses: 'gate-cloudwatch-alarms', result: 'no-data', summary: 'stopped', evidence: {}},
    ]
    const error = `1 of 2 gate(s) did not pass: public-http (gate-http) fail: error rate 60% <&> ${'x'.repeat(5000)}`
    const bake = {id: 'shift[50].bake', kind: 'gates', status: 'failed', error: {message: error}, notes: {gate: {evidence: {gates}}}, outputs: {}}
    ctx.run = {runbook: 'cutover', step: (id) => (id === bake.id ? bake : undefined), lastOfKind: () => undefined}
    const from = since()
    const fields = Object.fromEntries(Array.from({length: 25}, (_, k) => [`Field ${k}`, `value <${k}> & ${'y'.repeat(2500)}`]))
    const r = await notify.run(ctx, inputs({message: `Rollout <stopped> & ${'z'.repeat(5000)}`, severity: 'error', fields, evidenceFrom: 'bake'}))
    expect(r.outputs).toMatchObject({notDelivered: [], skipped: []})
    expect((r.outputs!.delivered as string[]).sort()).toEqual(['pagerduty', 'slack', 'webhook'])
    const got = mine(from)
    expect(got.map((d) => [d.provider, d.accepted]).sort()).toEqual([
      ['pagerduty', true],
      ['slack', true],
      ['webhook', true],
    ])
    const slack = got.find((d) => d.provider === 'slack')!.body as any
    expectSlackShape(slack)
    // mrkdwn: &, < and > escaped, so that Slack shows them rather than reading them as markup.
    expect(slack.blocks[0].text.text).toContain('Rollout &lt;stopped&gt; &amp;')
    const evidence = slack.blocks.find((b: any) => b.text?.text.startsWith('*Evidence*'))
    expect(evidence.text.text).toContain('shift[50].bake')
    expect(evidence.text.text).toContain('error rate 60%')
    const pd = got.find((d) => d.provider === 'pagerduty')!.body as any
    expectPagerDutyShape(pd, sink.env[NOTIFY_ENV.pagerduty]!, 'trigger', 'clipper-ops/test/test-run')
    expect(pd.payload.custom_details.evidence).toMatchObject({step: 'shift[50].bake', status: 'failed', data: {gates}})
    expect(pd.payload.component).toBe('cutover')
    const hook = got.find((d) => d.provider === 'webhook')!.body as any
    expect(hook).toMatchObject({id: 'test-run/shift[50].notify', event: 'rollout.failed', severity: 'error', runbook: 'cutover', environment: 'test'})
  })

  test('a sink that fails: a few bounded tries, a warning, and the step still succeeds', async () => {
    const ctx = context()
    const from = since()
    const fault = sink.faults.add({service: '*', operation: '*', kind: 'http500', probability: 1})
    try {
      const r = await notify.run(ctx, inputs({attempts: 3}))
      expect(r.outputs).toMatchObject({delivered: [], notDelivered: expect.arrayContaining(['slack', 'pagerduty', 'webhook'])})
      expect(r.summary).toMatch(/^NOT delivered to /)
    } finally {
      sink.faults.clear(fault)
    }
    const tries = mine(from)
    for (const p of ['slack', 'pagerduty', 'webhook']) expect(tries.filter((d) => d.provider === p && d.status === 500)).toHaveLength(3)
    expect(ctx.logs.filter((l) => l.startsWith('warning: '))).toHaveLength(3)
    expect(ctx.logs.join('\n')).toContain('warning: slack notification "rollout.failed" not delivered: HTTP 500: rollup_error (after 3 attempts); the run goes on')
  })

  test('a refusal that trying again cannot change (a bad routing key) is not retried; a missing secret sends nothing', async () => {
    const from = since()
    const bad = context({env: {...sink.env, [NOTIFY_ENV.pagerduty]: 'not-a-routing-key'}})
    const r = await notify.run(bad, inputs({to: ['pagerduty']}))
    expect(r.outputs!.deliveries).toEqual([expect.objectContaining({provider: 'pagerduty', delivered: false, attempts: 1, status: 400})])
    expect(mine(from)).toHaveLength(1)
    const unset = context({env: {[NOTIFY_ENV.slack]: '', [NOTIFY_ENV.pagerduty]: '', [NOTIFY_ENV.webhook]: ''}})
    const none = await notify.run(unset, inputs({}))
    expect(none.outputs).toMatchObject({delivered: [], notDelivered: ['slack', 'pagerduty', 'webhook']})
    expect(unset.logs).toEqual([
      `warning: "rollout.failed" not sent to slack, pagerduty, webhook: $${NOTIFY_ENV.slack} is not set, $${NOTIFY_ENV.pagerduty} is not set, $${NOTIFY_ENV.webhook} is not set; the run goes on`,
    ])
    expect(mine(from)).toHaveLength(1)
  })

  test('an attempt that hangs is cut off at its timeout, and an interrupt stops the step', async () => {
    const from = since()
    const fault = sink.faults.add({service: 'slack', operation: '*', kind: 'latency', latencyMs: 1500})
    try {
      const started = Date.now()
      const r = await notify.run(context(), inputs({to: ['slack'], attempts: 2, timeout: '300ms'}))
      expect(Date.now() - started).toBeLessThan(2500)
      expect(r.outputs!.deliveries).toEqual([expect.objectContaining({provider: 'slack', delivered: false, attempts: 2, error: 'no answer within 300ms'})])
      const stop = new AbortController()
      setTimeout(() => stop.abort(new Error('interrupted by the operator')), 200)
      await expect(notify.run(context({signal: stop.signal}), inputs({to: ['slack']}))).rejects.toThrow('interrupted by the operator')
    } finally {
      sink.faults.clear(fault)
    }
    // The sink saw three requests, each given up on before its late answer.
    const late = await waitFor(() => (mine(from).length >= 3 ? mine(from) : undefined), 5000, 'the late answers')
    expect(late.map((d) => [d.provider, d.accepted, d.fault])).toEqual(Array.from({length: 3}, () => ['slack', false, 'latency']))
  })

  test('a dry run says what it would send and where, without a secret, and sends nothing', async () => {
    const from = since()
    const ctx = context({dryRun: true})
    const plan = await notify.plan(ctx, inputs({elapsedSince: new Date().toISOString(), message: 'Rolled back in {elapsed}'}))
    expect(plan.summary).toContain(`would notify slack (${sink.url}/…), pagerduty trigger (${sink.pagerdutyUrl}), webhook (${sink.url}/…): "Rolled back in (measured when sent)"`)
    for (const v of Object.values(sink.env)) expect(ctx.redact(JSON.stringify(plan))).not.toContain(v)
    expect(JSON.stringify(plan)).not.toContain(sink.env[NOTIFY_ENV.pagerduty])
    expect(JSON.stringify(plan)).not.toContain(new URL(sink.env[NOTIFY_ENV.slack]!).pathname)
    expect(plan.changes).toEqual([])
    expect(mine(from)).toEqual([])
  })

  test('a webhook URL with credentials in it: they go as Basic auth (fetch refuses them in the URL), and are masked', async () => {
    const {createServer} = await import('node:http')
    const seen: {url?: string; auth?: string}[] = []
    const server = createServer((req, res) => {
      seen.push({url: req.url, auth: req.headers.authorization})
      req.resume()
      req.on('end', () => res.end('ok'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as {port: number}).port
      const ctx = context({env: {[NOTIFY_ENV.webhook]: `http://hook:s3cr%40t-pass@127.0.0.1:${port}/incoming`}})
      const r = await notify.run(ctx, inputs({to: ['webhook']}))
      expect(r.outputs).toMatchObject({delivered: ['webhook']})
      expect(seen).toEqual([{url: '/incoming', auth: `Basic ${Buffer.from('hook:s3cr@t-pass').toString('base64')}`}])
      expect(ctx.redact('password s3cr@t-pass')).toBe('password ***')
    } finally {
      server.close()
    }
  })

  test('after an interruption, a notification every provider took is not sent again', async () => {
    const i = inputs({})
    const done = context()
    done.previous.notes = {delivered: ['slack', 'webhook', 'pagerduty']}
    expect(await notify.reconcile!(done, i)).toMatchObject({done: true})
    const part = context()
    part.previous.notes = {delivered: ['slack']}
    expect(await notify.reconcile!(part, i)).toEqual({done: false})
  })
})

// Each test runs the CLI two or three times against the sandbox: room for a loaded machine.
describe('notify in rollout and rollback, on the sandbox', {timeout: 180_000}, () => {
  const sandbox = useSandbox({ttl: 1, changeDelayMs: 300})
  interface NotifyInfo {
    url: string
    deliveries: string
    envFile: string
    variables: Record<string, string>
  }
  let info: NotifyInfo
  let secrets: Record<string, string>

  beforeAll(async () => {
    const r = await sandbox().cli(['sandbox', 'status', '--json'])
    info = JSON.parse(r.stdout).notify as NotifyInfo
    secrets = Object.fromEntries(
      readFileSync(info.envFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
  })

  const deliveriesSince = (n: number) => readDeliveries(info.deliveries).slice(n)

  /** Every file of every run, and the audit trail: none may hold a secret (nor the Slack URL's secret path). */
  function expectNoSecretWritten(stateDir: string, output: string, o: {runs: boolean}): void {
    const runs = join(stateDir, 'runs')
    const files = existsSync(runs)
      ? readdirSync(runs, {recursive: true, withFileTypes: true})
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name))
      : []
    if (o.runs)
      for (const name of ['journal.jsonl', 'state.json', 'report.md', 'output.log'])
        expect(
          files.some((f) => f.endsWith(name)),
          name,
        ).toBe(true)
    if (existsSync(join(stateDir, 'audit.jsonl'))) files.push(join(stateDir, 'audit.jsonl'))
    const written = files.map((f) => readFileSync(f, 'utf8')).join('\n')
    const values = [...Object.values(secrets), new URL(secrets[NOTIFY_ENV.slack]!).pathname, new URL(secrets[NOTIFY_ENV.webhook]!).pathname]
    for (const v of values) {
      expect(written, 'a secret in the run files').not.toContain(v)
      expect(output, 'a secret in the output').not.toContain(v)
    }
  }

  test('the notify config names variables; their values live in tools.env (0600) only; status says where the deliveries go', async () => {
    const sb = sandbox()
    expect(info.deliveries).toBe(join(sb.stateDir, 'sandbox', 'notify-deliveries.jsonl'))
    expect(Object.keys(secrets).sort()).toEqual(Object.values(NOTIFY_ENV).sort())
    const config = (await import('yaml')).parse(readFileSync(sb.status.config, 'utf8'))
    expect(config.environments.sandbox.notify.slack).toEqual({webhookUrlEnv: NOTIFY_ENV.slack})
    for (const [k, v] of Object.entries(secrets)) expect(config.environments.sandbox.tools.env[k]).toBe(v)
    expect(statSync(sb.status.config).mode & 0o077).toBe(0)
    const exports = (await sb.cli(['sandbox', 'status', '--env-vars'])).stdout
    for (const [k, v] of Object.entries(secrets)) expect(exports).toContain(`export ${k}=${JSON.stringify(v)}`)
  })

  test('the dry run lists every notification it would send, and sends none', async () => {
    const sb = sandbox()
    const before = readDeliveries(info.deliveries).length
    const r = await sb.cli(['rollout', '--env', 'sandbox', '--dry-run', '--json', '--bake', '1s', '--steps', '50,100'], {env: secrets})
    expect(r.code, r.stderr).toBe(0)
    const plan = JSON.parse(r.stdout)
    const notes = plan.steps.filter((s: {kind: string}) => s.kind === 'notify')
    expect(notes.map((s: {id: string}) => s.id)).toEqual(['notify-started', 'shift[50].notify', 'shift[100].notify'])
    expect(notes[0].summary).toContain('would notify slack (')
    expect(notes[0].summary).toContain('"Rollout of clpr.tv to Kubernetes started on sandbox"')
    expect(notes[1].summary).toContain('"50% of clpr.tv is on Kubernetes on sandbox; the gates passed over 1s"')
    const onFailure = plan.onFailure.flatMap((f: {steps: {kind: string; summary: string}[]}) => f.steps).filter((s: {kind: string}) => s.kind === 'notify')
    expect(onFailure[0].summary).toContain('pagerduty trigger (')
    expectNoSecretWritten(sb.stateDir, r.stdout + r.stderr, {runs: false})
    expect(readDeliveries(info.deliveries).length).toBe(before)
  })

  test('a rollout and a rollback deliver their notifications in order, in each provider’s shape, and no secret is written', async () => {
    const sb = sandbox()
    const before = readDeliveries(info.deliveries).length
    const out = await sb.cli(['rollout', '--env', 'sandbox', '--bake', '1s', '--steps', '50,100'], {timeoutMs: 120_000})
    expect(out.code, out.stderr).toBe(0)
    const back = await sb.cli(['rollback', '--env', 'sandbox'], {timeoutMs: 120_000})
    expect(back.code, back.stderr).toBe(0)
    const got = deliveriesSince(before)
    expect(got.every((d) => d.accepted)).toBe(true)

    const hooks = got.filter((d) => d.provider === 'webhook').map((d) => d.body as any)
    expect(hooks.map((h) => h.event)).toEqual(['rollout.started', 'rollout.shifted', 'rollout.shifted', 'rollback.started', 'rollback.finished'])
    for (const h of hooks) expectWebhookShape(h)
    expect(hooks.map((h) => h.runbook)).toEqual(['cutover', 'cutover', 'cutover', 'rollback', 'rollback'])
    expect(hooks[1].details).toMatchObject({Weights: 'legacy 50 / kubernetes 50', Step: '1 of 2', evidence: {step: 'shift[50].bake', status: 'succeeded'}})
    expect(hooks[2].message).toBe('100% of clpr.tv is on Kubernetes on sandbox; the gates passed over 1s')

    const slack = got.filter((d) => d.provider === 'slack').map((d) => d.body as any)
    expect(slack.map((s) => s.text)).toEqual([
      'Rollout of clpr.tv to Kubernetes started on sandbox',
      '50% of clpr.tv is on Kubernetes on sandbox; the gates passed over 1s',
      '100% of clpr.tv is on Kubernetes on sandbox; the gates passed over 1s',
      'Rollback of clpr.tv to Docker Compose started on sandbox',
      expect.stringMatching(/^Rolled back clpr\.tv to Docker Compose on sandbox in [\d.]+s; all traffic is on legacy$/),
    ])
    for (const s of slack) expectSlackShape(s)
    // Each shift's message carries every gate's verdict.
    expect(JSON.stringify(slack[1].blocks)).toMatch(/public-http \(gate-http\): pass/)

    // A rollout going to plan pages nobody; the rollback opens the traffic alert and resolves it.
    const pd = got.filter((d) => d.provider === 'pagerduty').map((d) => d.body as any)
    expect(pd).toHaveLength(2)
    expectPagerDutyShape(pd[0], secrets[NOTIFY_ENV.pagerduty]!, 'trigger', 'clipper-ops/sandbox/traffic')
    expect(pd[0].payload).toMatchObject({severity: 'error', class: 'rollback.started', component: 'rollback', group: 'sandbox'})
    expectPagerDutyShape(pd[1], secrets[NOTIFY_ENV.pagerduty]!, 'resolve', 'clipper-ops/sandbox/traffic')

    // The time to recovery sent is the run's: since it started, up to the last step.
    const rb = JSON.parse((await sb.cli(['runs', 'show', 'latest', '--json'])).stdout)
    const ttr = hooks[4].details.elapsedMs as number
    expect(ttr).toBeGreaterThan(0)
    expect(ttr).toBeLessThanOrEqual(rb.durationMs)
    expect(hooks[4].details['Time to recovery']).toMatch(/^[\d.]+s$/)
    expect(hooks[4].details.evidence).toMatchObject({step: 'verify', status: 'succeeded', data: {servedBy: {legacy: expect.any(Number)}}})

    expectNoSecretWritten(sb.stateDir, out.stdout + out.stderr + back.stdout + back.stderr, {runs: true})
  })

  test('a sink that fails does not fail the rollback; the warning is shown and the run records what was not delivered', async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'fault', '--notify', '*', '--http503', '1', '--probability', '1'])).code).toBe(0)
    const before = readDeliveries(info.deliveries).length
    let back
    try {
      back = await sb.cli(['rollback', '--env', 'sandbox'], {env: secrets, timeoutMs: 120_000})
    } finally {
      await sb.cli(['sandbox', 'fault', '--clear'])
    }
    expect(back.code, back.stderr).toBe(0)
    expect(back.stderr).toContain('warning: pagerduty notification "rollback.started" not delivered: HTTP 503 (after 3 attempts); the run goes on')
    expect(back.stderr).toContain('warning: slack notification "rollback.finished" not delivered: HTTP 503: service_unavailable (after 3 attempts); the run goes on')
    expect(back.stderr).toMatch(/Notify — rolled back — NOT delivered to slack/)
    // Bounded: 3 tries per provider and notification, then the rollback went on.
    const tries = deliveriesSince(before)
    expect(tries).toHaveLength(2 * 3 * 3)
    expect(tries.every((d) => d.fault === 'http503')).toBe(true)
    const show = JSON.parse((await sb.cli(['runs', 'show', 'latest', '--json'])).stdout)
    expect(show.status).toBe('succeeded')
    expect(show.steps.find((s: {id: string}) => s.id === 'notify-finished').outputs).toMatchObject({delivered: [], notDelivered: ['slack', 'pagerduty', 'webhook']})
    expectNoSecretWritten(sb.stateDir, back.stdout + back.stderr, {runs: true})
  })

  test('a rollback that fails pages at once, critical, with what failed and what to do next', async () => {
    const sb = sandbox()
    const before = readDeliveries(info.deliveries).length
    await new WorldView(sb).setWeights({legacy: 0, kubernetes: 100}) // as if a rollout had finished
    // Once the run holds its lock, Route 53 answers every change batch with HTTP 500: the shift
    // to legacy cannot be made.
    const run = await startRunInBackground(sb, ['rollback', '--env', 'sandbox'], secrets)
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'compose-up', run)
    const rule = {service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'http500'}
    await fetch(`${sb.status.awsEndpoint}/_sandbox/faults`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(rule)})
    // Once the shift has failed, Route 53 works again: the run can let go of its lock.
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.failed' && e.stepId === 'weights', run, 120_000)
    await fetch(`${sb.status.awsEndpoint}/_sandbox/faults`, {method: 'DELETE'})
    const back = await run.done
    expect(back.code, back.stderr).toBe(1)
    const got = deliveriesSince(before)
    const pd = got.find((d) => d.provider === 'pagerduty' && JSON.stringify(d.body).includes('rollback.failed'))!.body as any
    expectPagerDutyShape(pd, secrets[NOTIFY_ENV.pagerduty]!, 'trigger', 'clipper-ops/sandbox/traffic')
    expect(pd.payload).toMatchObject({severity: 'critical', class: 'rollback.failed'})
    expect(pd.payload.summary).toBe('Rollback of clpr.tv to Docker Compose on sandbox FAILED at "All traffic to legacy (one change batch)"; traffic is not confirmed on legacy')
    expect(pd.payload.custom_details.evidence).toMatchObject({step: 'weights', status: 'failed'})
    const slack = got.find((d) => d.provider === 'slack' && JSON.stringify(d.body).includes('rollback.failed'))!.body as any
    expectSlackShape(slack)
    expect(JSON.stringify(slack.blocks)).toContain('clipper-ops rollback --env sandbox again')
    expectNoSecretWritten(sb.stateDir, back.stdout + back.stderr, {runs: true})
  })

  test('a failed gate: traffic goes back first, then the evidence goes out and PagerDuty is triggered', async () => {
    const sb = sandbox()
    const before = readDeliveries(info.deliveries).length
    const run = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '3s'], secrets)
    // The preflight has passed once the shift starts: fail the Kubernetes stack before the bake
    // measures it (the shift's INSYNC and the TTL leave more than a second), through the control
    // API directly rather than a CLI that takes longer to start.
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[100].weights', run)
    await fetch(`${sb.status.controlUrl}/stacks/kubernetes`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({errorRate: 1})})
    const r = await run.done
    await sb.cli(['sandbox', 'fault', '--clear'])
    expect(r.code, r.stderr).toBe(1)
    const journal = readJournal(sb.stateDir, run.runId)
    const at = (id: string) => journal.findIndex((e) => e.type === 'step.succeeded' && e.stepId === id)
    expect(at('shift[100].bake.on-failure.shift-back')).toBeGreaterThan(-1)
    expect(at('shift[100].bake.on-failure.notify-failed')).toBeGreaterThan(at('shift[100].bake.on-failure.shift-back'))

    const got = deliveriesSince(before)
    const failed = (p: string) => got.find((d) => d.provider === p && JSON.stringify(d.body).includes('rollout.failed'))!.body as any
    const pd = failed('pagerduty')
    expectPagerDutyShape(pd, secrets[NOTIFY_ENV.pagerduty]!, 'trigger', 'clipper-ops/sandbox/traffic')
    expect(pd.payload.summary).toBe('Rollout of clpr.tv on sandbox stopped; traffic sent back to legacy 100 / kubernetes 0')
    const evidence = pd.payload.custom_details.evidence
    expect(evidence).toMatchObject({step: 'shift[100].bake', status: 'failed'})
    const http = evidence.data.gates.find((g: {id: string}) => g.id === 'public-http')
    expect(http).toMatchObject({result: 'fail', evidence: {errors: expect.any(Number), statuses: {'503': expect.any(Number)}}})
    const slack = failed('slack')
    expectSlackShape(slack)
    expect(JSON.stringify(slack.blocks)).toMatch(/\*Evidence\* \(shift\[100\]\.bake\)\\n```1 of 4 gate\(s\) did not pass:/)
    expect(JSON.stringify(slack.blocks)).toContain('*Undo*\\nclipper-ops rollback --env sandbox')
    expect(failed('webhook').details.Failed).toBe('Bake 3s while the gates watch (shift[100].bake)')
    expectNoSecretWritten(sb.stateDir, r.stdout + r.stderr, {runs: true})
  })
})
