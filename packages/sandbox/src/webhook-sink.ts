/**
 * The sandbox's stand-in for where notifications go: a Slack incoming webhook, PagerDuty's Events
 * API v2 and a generic JSON webhook, on one local port. Each request is checked the way the real
 * service checks it and answered with that service's answer, so that a payload the real one would
 * refuse is refused here too:
 *
 * - Slack (POST /services/T…/B…/<secret>): 200 `ok`; 400 `invalid_payload` (not JSON),
 *   `no_text` (neither text nor blocks), `invalid_blocks_format` / `invalid_blocks` (Block Kit
 *   limits: 50 blocks, section text 3000 characters, 10 fields of 2000, header 150); 404
 *   `no_service` for an unknown webhook; 429 `rate_limited` when throttled.
 * - PagerDuty (POST /v2/enqueue): 202 `{status: "success", message: "Event processed",
 *   dedup_key}`; 400 `{status: "invalid event", message: "Event object is invalid", errors}` for
 *   a routing key that is not 32 alphanumeric characters (or not this sandbox's), a missing or
 *   unknown event_action, a trigger without payload.summary/source/severity (one of critical,
 *   error, warning, info), an acknowledge or resolve without dedup_key.
 * - The generic webhook (POST /webhook/<secret>): 200 `{ok: true}`; 400 with the problems when
 *   the body is not clipper-ops's notification shape; 404 for an unknown one.
 *
 * Every request — accepted, refused or faulted — is appended as one JSON line to the deliveries
 * file, so rehearsals and tests can read what was sent, in order. Faults (`sandbox fault
 * --notify`) make a provider fail the way an outage does: HTTP 500/503, 429, a dropped
 * connection, latency.
 *
 * The URLs' secret parts and the routing key are made afresh at each start; they reach the CLI
 * through environment variables (see NOTIFY_ENV), never through the config file, whose copy every
 * run keeps in its state.
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import {appendFileSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {listen} from './listen.js'
import {FaultController, type FaultKind, type FaultRule} from './aws-front/faults.js'

export const NOTIFY_PROVIDERS = ['slack', 'pagerduty', 'webhook'] as const
export type NotifyProvider = (typeof NOTIFY_PROVIDERS)[number]

/** The variables the sandbox environment's notify config names (its values: `sandbox status --env-vars`). */
export const NOTIFY_ENV = {
  slack: 'CLIPPER_SANDBOX_SLACK_WEBHOOK_URL',
  pagerduty: 'CLIPPER_SANDBOX_PAGERDUTY_ROUTING_KEY',
  webhook: 'CLIPPER_SANDBOX_WEBHOOK_URL',
} as const

/** The faults a notification endpoint can have (no PriorRequestNotComplete: that is Route 53's). */
export const SINK_FAULT_KINDS: FaultKind[] = ['throttle', 'http500', 'http503', 'drop', 'latency']

export interface Delivery {
  at: string
  provider: NotifyProvider | 'unknown'
  method: string
  path: string
  status: number
  accepted: boolean
  /** Why it was refused, in the service's words. */
  error?: string
  fault?: string
  /** The body as received: parsed JSON, or the text when it is not JSON. */
  body: unknown
}

export interface WebhookSink {
  url: string
  port: number
  /** The secrets' values, by variable name (NOTIFY_ENV). */
  env: Record<string, string>
  pagerdutyUrl: string
  faults: FaultController
  deliveriesFile: string
  close(): Promise<void>
}

const alnum = (n: number) =>
  randomBytes(n * 2)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, n)

type Answer = {status: number; body: string | Record<string, unknown>; error?: string; headers?: Record<string, string>}

// ---- Slack ---------------------------------------------------------------------------------

const BLOCK_TYPES = new Set(['section', 'header', 'divider', 'context', 'image', 'actions', 'rich_text', 'markdown', 'input', 'file', 'video'])

/** A Block Kit text object within `max` characters, or why not. */
function textObject(t: unknown, where: string, max: number, plainOnly = false): string | undefined {
  if (!t || typeof t !== 'object') return `${where} must be a text object`
  const o = t as {type?: unknown; text?: unknown}
  if (o.type !== 'plain_text' && (plainOnly || o.type !== 'mrkdwn')) return `${where}.type must be ${plainOnly ? 'plain_text' : 'plain_text or mrkdwn'}`
  if (typeof o.text !== 'string' || o.text.length === 0) return `${where}.text must be a non-empty string`
  if (o.text.length > max) return `${where}.text must be at most ${max} characters (${o.text.length})`
  return undefined
}

/** Why Slack would refuse these blocks (the first reason), or undefined. */
export function blocksProblem(blocks: unknown[]): string | undefined {
  if (blocks.length > 50) return 'no more than 50 blocks are allowed'
  for (const [n, b] of blocks.entries()) {
    const at = `blocks[${n}]`
    if (!b || typeof b !== 'object') return `${at} must be an object`
    const block = b as Record<string, unknown>
    if (typeof block.type !== 'string' || !BLOCK_TYPES.has(block.type)) return `${at}.type ${JSON.stringify(block.type)} is not a block type`
    if (block.block_id !== undefined && (typeof block.block_id !== 'string' || block.block_id.length > 255)) return `${at}.block_id must be a string of at most 255 characters`
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined) return `${at} must have text or fields`
      if (block.text !== undefined) {
        const p = textObject(block.text, `${at}.text`, 3000)
        if (p) return p
      }
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length === 0) return `${at}.fields must be a non-empty array`
        if (block.fields.length > 10) return `${at}.fields must have at most 10 items`
        for (const [k, f] of block.fields.entries()) {
          const p = textObject(f, `${at}.fields[${k}]`, 2000)
          if (p) return p
        }
      }
    }
    if (block.type === 'header') {
      const p = textObject(block.text, `${at}.text`, 150, true)
      if (p) return p
    }
    if (block.type === 'context') {
      if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) return `${at}.elements must have 1 to 10 items`
      for (const [k, e] of block.elements.entries()) {
        if ((e as {type?: unknown})?.type === 'image') continue
        const p = textObject(e, `${at}.elements[${k}]`, 2000)
        if (p) return p
      }
    }
  }
  return undefined
}

/** What hooks.slack.com answers to this body (its error strings are the body, as text). */
export function slackAnswer(raw: string, contentType: string): Answer {
  let body: unknown
  try {
    // Slack also takes a form field `payload` holding the JSON.
    body = contentType.includes('application/x-www-form-urlencoded') ? JSON.parse(new URLSearchParams(raw).get('payload') ?? '') : JSON.parse(raw)
  } catch {
    return {status: 400, body: 'invalid_payload', error: 'invalid_payload'}
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {status: 400, body: 'invalid_payload', error: 'invalid_payload'}
  const msg = body as {text?: unknown; blocks?: unknown; attachments?: unknown}
  if (msg.text !== undefined && typeof msg.text !== 'string') return {status: 400, body: 'invalid_payload', error: 'invalid_payload: text must be a string'}
  if (msg.blocks !== undefined && !Array.isArray(msg.blocks)) return {status: 400, body: 'invalid_blocks_format', error: 'invalid_blocks_format: blocks must be an array'}
  const hasText = typeof msg.text === 'string' && msg.text.trim() !== ''
  const hasBlocks = Array.isArray(msg.blocks) && msg.blocks.length > 0
  if (!hasText && !hasBlocks && !Array.isArray(msg.attachments)) return {status: 400, body: 'no_text', error: 'no_text'}
  const problem = Array.isArray(msg.blocks) ? blocksProblem(msg.blocks) : undefined
  if (problem) return {status: 400, body: 'invalid_blocks', error: `invalid_blocks: ${problem}`}
  return {status: 200, body: 'ok'}
}

// ---- PagerDuty -----------------------------------------------------------------------------

const PD_SEVERITIES = ['critical', 'error', 'warning', 'info']
const PD_ACTIONS = ['trigger', 'acknowledge', 'resolve']
const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '')

/** What events.pagerduty.com/v2/enqueue answers to this body. */
export function pagerdutyAnswer(raw: string, routingKey: string): Answer {
  const invalid = (errors: string[]): Answer => ({status: 400, body: {status: 'invalid event', message: 'Event object is invalid', errors}, error: errors.join('; ')})
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return invalid(['Event object is not valid JSON'])
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return invalid(['Event object must be a JSON object'])
  const e = body as {routing_key?: unknown; event_action?: unknown; dedup_key?: unknown; payload?: Record<string, unknown>}
  const errors: string[] = []
  if (blank(e.routing_key)) errors.push("'routing_key' is missing or blank")
  else if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)")
  else if (!/^[A-Za-z0-9]+$/.test(e.routing_key)) errors.push("'routing_key' cannot contain non-alphanumeric characters.")
  if (blank(e.event_action)) errors.push("'event_action' is missing or blank")
  else if (!PD_ACTIONS.includes(String(e.event_action))) errors.push(`'event_action' must be one of ${PD_ACTIONS.join(', ')}`)
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length > 255)) errors.push("'dedup_key' must be a string of at most 255 characters")
  if (e.event_action === 'trigger') {
    const p = e.payload
    if (!p || typeof p !== 'object') errors.push("'payload' is missing or blank")
    else {
      for (const f of ['summary', 'source', 'severity']) if (blank(p[f])) errors.push(`'payload.${f}' is missing or blank`)
      if (!blank(p.severity) && !PD_SEVERITIES.includes(String(p.severity))) errors.push(`'payload.severity' must be one of ${PD_SEVERITIES.join(', ')}`)
      if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || p.custom_details === null)) errors.push("'payload.custom_details' must be an object")
    }
  } else if ((e.event_action === 'acknowledge' || e.event_action === 'resolve') && blank(e.dedup_key)) {
    errors.push("'dedup_key' is missing or blank")
  }
  if (errors.length) return invalid(errors)
  // A well-formed key of no integration of this "account".
  if (e.routing_key !== routingKey) return invalid(['Invalid routing key'])
  const dedupKey = typeof e.dedup_key === 'string' && e.dedup_key !== '' ? e.dedup_key : randomBytes(16).toString('hex')
  return {status: 202, body: {status: 'success', message: 'Event processed', dedup_key: dedupKey}}
}

// ---- The generic webhook -------------------------------------------------------------------

/** What clipper-ops's generic webhook receiver (this one) takes: its notification, whole. */
export function webhookAnswer(raw: string): Answer {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return {status: 400, body: {error: 'invalid payload: not JSON'}, error: 'not JSON'}
  }
  const problems: string[] = []
  if (!body || typeof body !== 'object' || Array.isArray(body)) problems.push('the body must be a JSON object')
  else {
    const b = body as Record<string, unknown>
    for (const f of ['id', 'event', 'runId', 'message', 'at']) if (typeof b[f] !== 'string' || b[f] === '') problems.push(`${f} must be a non-empty string`)
    for (const f of ['runbook', 'environment']) if (b[f] !== null && typeof b[f] !== 'string') problems.push(`${f} must be a string or null`)
    if (!['info', 'warning', 'error', 'critical'].includes(String(b.severity))) problems.push('severity must be one of info, warning, error, critical')
    if (!b.details || typeof b.details !== 'object' || Array.isArray(b.details)) problems.push('details must be an object')
    if (typeof b.at === 'string' && Number.isNaN(Date.parse(b.at))) problems.push('at must be an ISO time')
  }
  if (problems.length) return {status: 400, body: {error: 'invalid payload', problems}, error: problems.join('; ')}
  return {status: 200, body: {ok: true}}
}

// ---- The server ----------------------------------------------------------------------------

const FAULT_ANSWERS: Partial<Record<FaultKind, Record<NotifyProvider, Answer>>> = {
  throttle: {
    slack: {status: 429, body: 'rate_limited', headers: {'retry-after': '1'}},
    pagerduty: {status: 429, body: ''},
    webhook: {status: 429, body: {error: 'too many requests'}, headers: {'retry-after': '1'}},
  },
  http500: {slack: {status: 500, body: 'rollup_error'}, pagerduty: {status: 500, body: ''}, webhook: {status: 500, body: {error: 'internal error'}}},
  http503: {slack: {status: 503, body: 'service_unavailable'}, pagerduty: {status: 503, body: ''}, webhook: {status: 503, body: {error: 'unavailable'}}},
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

function reply(res: ServerResponse, a: Answer): void {
  const json = typeof a.body !== 'string'
  res.writeHead(a.status, {'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', ...a.headers})
  res.end(json ? JSON.stringify(a.body) : a.body)
}

export async function startWebhookSink(o: {deliveriesFile: string; port?: number; host?: string}): Promise<WebhookSink> {
  // Shaped like the real ones: Slack's T…/B…/<24 characters>, PagerDuty's 32-character key.
  const slackPath = `/services/T0SANDBOX/B0SANDBOX/${alnum(24)}`
  const webhookPath = `/webhook/${alnum(32)}`
  const routingKey = alnum(32)
  const faults = new FaultController()
  const record = (d: Omit<Delivery, 'at'>) => appendFileSync(o.deliveriesFile, `${JSON.stringify({at: new Date().toISOString(), ...d})}\n`, {mode: 0o600})

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const provider: NotifyProvider | 'unknown' = path.startsWith('/services/')
      ? 'slack'
      : path === '/v2/enqueue'
        ? 'pagerduty'
        : path.startsWith('/webhook/')
          ? 'webhook'
          : 'unknown'
    // A client that goes away mid-body has sent nothing.
    const raw = await readBody(req).catch(() => undefined)
    if (raw === undefined) return
    let parsed: unknown = raw
    try {
      parsed = JSON.parse(raw)
    } catch {
      /* recorded as text */
    }
    const base = {provider, method: req.method ?? 'GET', path, body: parsed}
    if (provider === 'unknown' || req.method !== 'POST') {
      const a: Answer = provider === 'unknown' ? {status: 404, body: {error: `no notification endpoint at ${path}`}} : {status: 405, body: {error: 'POST only'}}
      record({...base, status: a.status, accepted: false, error: String((a.body as {error: string}).error)})
      return reply(res, a)
    }
    for (const f of faults.take(provider, 'POST')) {
      if (f.kind === 'latency') {
        await new Promise((r) => setTimeout(r, f.latencyMs ?? 0))
        // A client that gave up meanwhile got no answer: that is what is recorded.
        if (res.destroyed || req.socket.destroyed) return record({...base, status: 0, accepted: false, fault: 'latency', error: 'the client gave up before the answer'})
        continue
      }
      if (f.kind === 'drop') {
        record({...base, status: 0, accepted: false, fault: 'drop', error: 'connection dropped'})
        req.socket.destroy()
        return
      }
      const a = FAULT_ANSWERS[f.kind]?.[provider]
      if (a) {
        record({...base, status: a.status, accepted: false, fault: f.kind, error: typeof a.body === 'string' ? a.body : JSON.stringify(a.body)})
        return reply(res, a)
      }
    }
    let a: Answer
    if (provider === 'slack') a = path === slackPath ? slackAnswer(raw, String(req.headers['content-type'] ?? '')) : {status: 404, body: 'no_service', error: 'no_service'}
    else if (provider === 'pagerduty') a = pagerdutyAnswer(raw, routingKey)
    else a = path === webhookPath ? webhookAnswer(raw) : {status: 404, body: {error: 'no such webhook'}, error: 'no such webhook'}
    record({...base, status: a.status, accepted: a.status < 300, ...(a.error ? {error: a.error} : {})})
    reply(res, a)
  })
  server.keepAliveTimeout = 5000
  const {port, url} = await listen(server, o.port, o.host ?? '127.0.0.1')
  return {
    url,
    port,
    env: {[NOTIFY_ENV.slack]: `${url}${slackPath}`, [NOTIFY_ENV.pagerduty]: routingKey, [NOTIFY_ENV.webhook]: `${url}${webhookPath}`},
    pagerdutyUrl: `${url}/v2/enqueue`,
    faults,
    deliveriesFile: o.deliveriesFile,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A fault rule for the sink from the control API's JSON: a provider (or *) and one of SINK_FAULT_KINDS. */
export function sinkFaultRule(input: Record<string, unknown>): FaultRule {
  const provider = input.provider ?? '*'
  if (provider !== '*' && !(NOTIFY_PROVIDERS as readonly unknown[]).includes(provider))
    throw new Error(`notify fault: expected a provider of ${NOTIFY_PROVIDERS.join(', ')} or *; got ${JSON.stringify(provider)}`)
  if (!SINK_FAULT_KINDS.includes(input.kind as FaultKind)) throw new Error(`notify fault: kind must be one of ${SINK_FAULT_KINDS.join(', ')}; got ${JSON.stringify(input.kind)}`)
  return {...input, service: String(provider), operation: '*'} as unknown as FaultRule
}
