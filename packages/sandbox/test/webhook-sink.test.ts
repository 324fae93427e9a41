/**
 * The notification sink answers as Slack's incoming webhooks, PagerDuty's Events API v2 and a
 * JSON webhook receiver do: what the real service takes is taken, what it refuses is refused with
 * its answer, every request is recorded in order, and faults fail it as an outage would.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {NOTIFY_ENV, startWebhookSink, type Delivery, type WebhookSink} from '../src/webhook-sink.js'

let dir: string
let sink: WebhookSink

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webhook-sink-'))
  sink = await startWebhookSink({deliveriesFile: join(dir, 'deliveries.jsonl')})
})

afterAll(async () => {
  await sink?.close()
  rmSync(dir, {recursive: true, force: true})
})

const slackUrl = () => sink.env[NOTIFY_ENV.slack]!
const webhookUrl = () => sink.env[NOTIFY_ENV.webhook]!
const routingKey = () => sink.env[NOTIFY_ENV.pagerduty]!

async function post(url: string, body: unknown, contentType = 'application/json'): Promise<{status: number; text: string; json?: any; headers: Headers}> {
  const r = await fetch(url, {method: 'POST', headers: {'content-type': contentType}, body: typeof body === 'string' ? body : JSON.stringify(body)})
  const text = await r.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    /* Slack answers in text */
  }
  return {status: r.status, text, json, headers: r.headers}
}

function deliveries(): Delivery[] {
  return readFileSync(sink.deliveriesFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Delivery)
}

describe('the secrets', () => {
  test('are shaped like the real ones, and different at each start', async () => {
    expect(slackUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/services\/T0SANDBOX\/B0SANDBOX\/[A-Za-z0-9]{24}$/)
    expect(routingKey()).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(webhookUrl()).toMatch(/\/webhook\/[A-Za-z0-9]{32}$/)
    const other = await startWebhookSink({deliveriesFile: join(dir, 'other.jsonl')})
    try {
      expect(other.env[NOTIFY_ENV.pagerduty]).not.toBe(routingKey())
      expect(other.env[NOTIFY_ENV.slack]).not.toBe(slackUrl())
    } finally {
      await other.close()
    }
  })
})

describe('Slack incoming webhook', () => {
  test('takes text, blocks, or both, and answers "ok"', async () => {
    expect(await post(slackUrl(), {text: 'hello'})).toMatchObject({status: 200, text: 'ok'})
    const blocks = [
      {type: 'section', text: {type: 'mrkdwn', text: '*hi*'}},
      {type: 'section', fields: [{type: 'mrkdwn', text: '*a*\n1'}]},
      {type: 'context', elements: [{type: 'mrkdwn', text: 'ctx'}]},
    ]
    expect((await post(slackUrl(), {blocks})).status).toBe(200)
    // The form encoding older clients use: a `payload` field holding the JSON.
    expect((await post(slackUrl(), `payload=${encodeURIComponent(JSON.stringify({text: 'form'}))}`, 'application/x-www-form-urlencoded')).text).toBe('ok')
  })

  test("refuses what Slack refuses, with Slack's error strings", async () => {
    expect(await post(slackUrl(), '{not json')).toMatchObject({status: 400, text: 'invalid_payload'})
    expect(await post(slackUrl(), {})).toMatchObject({status: 400, text: 'no_text'})
    expect(await post(slackUrl(), {text: '   '})).toMatchObject({status: 400, text: 'no_text'})
    expect(await post(slackUrl(), {blocks: 'x'})).toMatchObject({status: 400, text: 'invalid_blocks_format'})
    const long = {blocks: [{type: 'section', text: {type: 'mrkdwn', text: 'x'.repeat(3001)}}]}
    expect(await post(slackUrl(), long)).toMatchObject({status: 400, text: 'invalid_blocks'})
    const fields = {blocks: [{type: 'section', fields: Array.from({length: 11}, (_, k) => ({type: 'mrkdwn', text: `f${k}`}))}]}
    expect(await post(slackUrl(), fields)).toMatchObject({status: 400, text: 'invalid_blocks'})
    expect(await post(slackUrl(), {blocks: [{type: 'header', text: {type: 'mrkdwn', text: 'no'}}]})).toMatchObject({status: 400, text: 'invalid_blocks'})
    expect(await post(slackUrl(), {blocks: [{type: 'banner'}]})).toMatchObject({status: 400, text: 'invalid_blocks'})
    expect(await post(slackUrl(), {blocks: Array.from({length: 51}, () => ({type: 'divider'}))})).toMatchObject({status: 400, text: 'invalid_blocks'})
    // A webhook URL that is not (or no longer) one.
    expect(await post(slackUrl().replace(/[A-Za-z0-9]{24}$/, 'x'.repeat(24)), {text: 'hi'})).toMatchObject({status: 404, text: 'no_service'})
  })
})

describe('PagerDuty Events API v2', () => {
  const trigger = () => ({
    routing_key: routingKey(),
    event_action: 'trigger',
    dedup_key: 'clipper-ops/test/traffic',
    payload: {summary: 'gate failed', source: 'clpr.tv', severity: 'error', custom_details: {errorRate: 0.5}},
  })

  test('a trigger and its resolve: 202 with the dedup key', async () => {
    const t = await post(sink.pagerdutyUrl, trigger())
    expect(t.status).toBe(202)
    expect(t.json).toEqual({status: 'success', message: 'Event processed', dedup_key: 'clipper-ops/test/traffic'})
    const r = await post(sink.pagerdutyUrl, {routing_key: routingKey(), event_action: 'resolve', dedup_key: 'clipper-ops/test/traffic'})
    expect(r).toMatchObject({status: 202, json: {status: 'success', dedup_key: 'clipper-ops/test/traffic'}})
    // Without a dedup key, a trigger gets one made up.
    const {dedup_key: _, ...noKey} = trigger()
    expect((await post(sink.pagerdutyUrl, noKey)).json.dedup_key).toMatch(/^[0-9a-f]{32}$/)
  })

  test("refuses a malformed event with PagerDuty's error shape, naming every problem", async () => {
    const invalid = (errors: unknown) => ({status: 400, json: {status: 'invalid event', message: 'Event object is invalid', errors}})
    expect(await post(sink.pagerdutyUrl, {...trigger(), routing_key: 'short'})).toMatchObject(invalid(["Length of 'routing_key' is incorrect (should be 32 characters)"]))
    expect(await post(sink.pagerdutyUrl, {...trigger(), routing_key: `${'a'.repeat(31)}-`})).toMatchObject(invalid(["'routing_key' cannot contain non-alphanumeric characters."]))
    expect(await post(sink.pagerdutyUrl, {...trigger(), routing_key: 'b'.repeat(32)})).toMatchObject(invalid(['Invalid routing key']))
    expect(await post(sink.pagerdutyUrl, {...trigger(), payload: {summary: 'x', source: 'y'}})).toMatchObject(invalid(["'payload.severity' is missing or blank"]))
    expect(await post(sink.pagerdutyUrl, {...trigger(), payload: {summary: 'x', source: 'y', severity: 'fatal'}})).toMatchObject(
      invalid(["'payload.severity' must be one of critical, error, warning, info"]),
    )
    expect(await post(sink.pagerdutyUrl, {routing_key: routingKey(), event_action: 'trigger'})).toMatchObject(invalid(["'payload' is missing or blank"]))
    expect(await post(sink.pagerdutyUrl, {routing_key: routingKey(), event_action: 'resolve'})).toMatchObject(invalid(["'dedup_key' is missing or blank"]))
    expect(await post(sink.pagerdutyUrl, {routing_key: routingKey(), event_action: 'page'})).toMatchObject(invalid(["'event_action' must be one of trigger, acknowledge, resolve"]))
    const none = await post(sink.pagerdutyUrl, {event_action: 'trigger', payload: {}})
    expect(none.json.errors).toEqual([
      "'routing_key' is missing or blank",
      "'payload.summary' is missing or blank",
      "'payload.source' is missing or blank",
      "'payload.severity' is missing or blank",
    ])
  })
})

describe('the generic webhook', () => {
  const note = {
    id: 'r/s',
    event: 'rollout.started',
    severity: 'info',
    runId: 'r',
    runbook: 'cutover',
    environment: 'sandbox',
    message: 'hi',
    details: {},
    at: new Date().toISOString(),
  }

  test("takes clipper-ops's notification, refuses anything else", async () => {
    expect(await post(webhookUrl(), note)).toMatchObject({status: 200, json: {ok: true}})
    const bad = await post(webhookUrl(), {...note, message: '', severity: 'loud', details: [], at: 'yesterday'})
    expect(bad.status).toBe(400)
    expect(bad.json.problems).toEqual([
      'message must be a non-empty string',
      'severity must be one of info, warning, error, critical',
      'details must be an object',
      'at must be an ISO time',
    ])
    expect((await post(webhookUrl().replace(/[A-Za-z0-9]{32}$/, 'y'.repeat(32)), note)).status).toBe(404)
  })
})

describe('the deliveries file and faults', () => {
  test('records every request in order, accepted or not, and fails on demand like an outage', async () => {
    const before = deliveries().length
    sink.faults.add({service: 'slack', operation: '*', kind: 'http503', count: 1})
    sink.faults.add({service: '*', operation: '*', kind: 'throttle', count: 1})
    const first = await post(slackUrl(), {text: 'one'})
    expect(first).toMatchObject({status: 503, text: 'service_unavailable'})
    const second = await post(sink.pagerdutyUrl, {routing_key: routingKey(), event_action: 'resolve', dedup_key: 'k'})
    expect(second.status).toBe(429)
    expect((await post(slackUrl(), {text: 'three'})).status).toBe(200)
    sink.faults.add({service: 'webhook', operation: '*', kind: 'drop', count: 1})
    await expect(fetch(webhookUrl(), {method: 'POST', body: '{}'})).rejects.toThrow()
    const mine = deliveries().slice(before)
    expect(mine.map((d) => [d.provider, d.status, d.accepted, d.fault])).toEqual([
      ['slack', 503, false, 'http503'],
      ['pagerduty', 429, false, 'throttle'],
      ['slack', 200, true, undefined],
      ['webhook', 0, false, 'drop'],
    ])
    expect(mine[2]!.body).toEqual({text: 'three'})
    // The file is for the sandbox's owner only: it holds what was sent, routing keys and all.
    const {statSync} = await import('node:fs')
    expect(statSync(sink.deliveriesFile).mode & 0o777).toBe(0o600)
  })
})
