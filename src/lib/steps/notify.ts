/**
 * `notify`: tell people what a run is doing — through a Slack incoming webhook, PagerDuty's
 * Events API v2 and a generic JSON webhook, as the environment's `notify` config says.
 *
 * Webhook URLs and routing keys are secrets: the config names the environment variables that hold
 * them, and each value is registered with ctx.secret before it is used, so that nothing the run
 * writes (journal, state, reports, logs) ever holds one. A dry run shows what would be sent and
 * where, with the secret part of each URL left out, and sends nothing.
 *
 * A notification is never worth a failed rollback: each provider is tried a few times, every
 * attempt bounded in time, and one that cannot be reached is logged as a warning and recorded as
 * not delivered (outputs.notDelivered) — the step still succeeds. Only an interrupt stops it.
 */
import {z} from 'zod'
import {duration, type Environment} from '../config/schema.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {sleep} from '../util/sleep.js'
import {defineStep, type StepContext} from './types.js'

export const PROVIDERS = ['slack', 'pagerduty', 'webhook'] as const
export type Provider = (typeof PROVIDERS)[number]
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue'

const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const
type Severity = (typeof SEVERITIES)[number]

const inputs = z.strictObject({
  /** What happened, for machines: rollout.started, rollout.shifted, rollout.failed, rollback.finished… */
  event: z.string().regex(/^[a-z][a-z0-9]*([.-][a-z0-9]+)*$/, {error: 'expected an event name such as rollout.started'}),
  /** What happened, for people: one line. `{elapsed}` is replaced by the time since `elapsedSince`. */
  message: z.string().min(1, {error: 'expected a message'}),
  /** PagerDuty's severities; Slack shows them as an icon. */
  severity: z.enum(SEVERITIES).default('info'),
  /** Who this notification is for; providers the environment has not configured are left out. */
  to: z
    .array(z.enum(PROVIDERS))
    .min(1)
    .default([...PROVIDERS]),
  /** Key facts: fields in Slack, custom details in PagerDuty, details in the webhook. Empty values are left out. */
  fields: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
  /** More structured details for PagerDuty and the webhook (Slack shows only the fields). */
  details: z.record(z.string(), z.unknown()).optional(),
  /**
   * A step whose result is the evidence (a sibling in the same group by its short id, or a full id
   * such as ${{ failed.id }}): its summary or error, and its outputs or the gate evidence it noted.
   */
  evidenceFrom: z.string().min(1).optional(),
  /** Adds the time since then (e.g. ${{ run.startedAt }}) as the field `elapsedLabel`. */
  elapsedSince: z.iso.datetime({offset: true, error: 'expected an ISO time such as ${{ run.startedAt }}'}).optional(),
  elapsedLabel: z.string().min(1).default('Elapsed'),
  pagerduty: z
    .strictObject({
      /** trigger opens (or adds to) an alert; resolve closes the alert with the same dedupKey. */
      action: z.enum(['trigger', 'acknowledge', 'resolve']).default('trigger'),
      /** Ties a trigger to its resolve, across runs (default clipper-ops/<environment>/<run id>). */
      dedupKey: z.string().min(1).max(255).optional(),
    })
    .prefault({}),
  /** Tries per provider, each bounded by `timeout`; then the notification is given up on (the run goes on). */
  attempts: z.number().int().min(1).max(5).default(3),
  timeout: duration('a timeout per attempt').default('5s'),
})
type Inputs = z.output<typeof inputs>

/** Where a provider's notifications go, when the environment configures it. */
interface Target {
  provider: Provider
  /** The variable holding the secret. */
  env: string
  /** For people: the URL without its secret part. */
  where: string
  /** Set when the secret is there and usable. */
  url?: URL
  routingKey?: string
  /** Why it cannot be sent (the variable is not set, not a URL). */
  problem?: string
}

/** The providers of `i.to` the environment configures, with their secrets read from the environment. */
function targets(ctx: StepContext, i: Inputs): Target[] {
  const cfg = ctx.environment?.notify
  const read = (name: string): string | undefined => {
    const v = ctx.childEnv[name]
    if (v) ctx.secret(v)
    return v || undefined
  }
  const out: Target[] = []
  for (const provider of i.to) {
    if (provider === 'slack' && cfg?.slack) out.push(urlTarget(ctx, provider, cfg.slack.webhookUrlEnv, read(cfg.slack.webhookUrlEnv), 'https://hooks.slack.com/…'))
    if (provider === 'webhook' && cfg?.webhook) out.push(urlTarget(ctx, provider, cfg.webhook.urlEnv, read(cfg.webhook.urlEnv), 'the webhook'))
    if (provider === 'pagerduty' && cfg?.pagerduty) out.push(pagerdutyTarget(cfg.pagerduty, read(cfg.pagerduty.routingKeyEnv)))
  }
  return out
}

function urlTarget(ctx: StepContext, provider: Provider, env: string, value: string | undefined, fallback: string): Target {
  if (!value) return {provider, env, where: fallback, problem: `$${env} is not set`}
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return {provider, env, where: fallback, problem: `$${env} is not a URL`}
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return {provider, env, where: fallback, problem: `$${env} is not an http(s) URL`}
  // The path of a Slack (or most) webhook URL is its secret: also masked on its own.
  if (url.pathname.length >= 16) ctx.secret(url.pathname)
  if (url.password) ctx.secret(decodeURIComponent(url.password))
  return {provider, env, where: `${url.origin}/…`, url}
}

function pagerdutyTarget(cfg: NonNullable<Environment['notify']>['pagerduty'] & object, key: string | undefined): Target {
  const url = new URL(cfg.url ?? PAGERDUTY_EVENTS_URL)
  const where = `${url.origin}${url.pathname}`
  if (!key) return {provider: 'pagerduty', env: cfg.routingKeyEnv, where, problem: `$${cfg.routingKeyEnv} is not set`}
  return {provider: 'pagerduty', env: cfg.routingKeyEnv, where, url, routingKey: key}
}

interface Evidence {
  step: string
  status?: string
  /** The step's own words: its error (failed) or its summary. */
  text?: string
  /** Its outputs, or the evidence a failing gate noted in the journal. */
  data?: unknown
}

function evidenceOf(ctx: StepContext, ref: string): Evidence {
  // A short id names a sibling in the same group (bake, in shift[50]); a full id names any step.
  const group = ctx.stepId.includes('.') ? ctx.stepId.slice(0, ctx.stepId.lastIndexOf('.')) : undefined
  const s = ctx.run.step(ref) ?? (group ? ctx.run.step(`${group}.${ref}`) : undefined)
  if (!s) return {step: ref, text: 'no result recorded'}
  const gate = (s.notes?.gate as {evidence?: unknown} | undefined)?.evidence
  const data = s.status === 'failed' ? gate : s.outputs
  const text = s.status === 'failed' ? s.error?.message : s.summary
  return {step: s.id, status: s.status, ...(text ? {text} : {}), ...(data === undefined ? {} : {data: bounded(data)})}
}

/** PagerDuty takes events up to 512 KB; evidence that large is left in the journal. */
function bounded(data: unknown): unknown {
  const size = JSON.stringify(data)?.length ?? 0
  return size > 100_000 ? `(${size} bytes of evidence: see the run's journal)` : data
}

/** The gates' verdicts, one line each, when the evidence is a gates step's. */
function gateLines(data: unknown): string[] {
  const gates = (data as {gates?: unknown} | undefined)?.gates
  if (!Array.isArray(gates)) return []
  return gates.map((g: {id?: string; uses?: string; result?: string; summary?: string}) => `${g.id} (${g.uses}): ${g.result} — ${g.summary ?? ''}`.trim())
}

/** One notification, as every provider's payload is built from it. */
export interface Notice {
  id: string
  event: string
  severity: Severity
  message: string
  fields: Record<string, string | number | boolean>
  details?: Record<string, unknown>
  evidence?: Evidence
  elapsedMs?: number
  runId: string
  runbook?: string
  environment?: string
  source: string
  at: string
}

function notice(ctx: StepContext, i: Inputs, now = new Date()): Notice {
  const fields: Notice['fields'] = {}
  for (const [k, v] of Object.entries(i.fields)) if (v !== null && v !== '') fields[k] = v
  let message = i.message
  let elapsedMs: number | undefined
  if (i.elapsedSince) {
    elapsedMs = Math.max(0, now.getTime() - Date.parse(i.elapsedSince))
    const text = ctx.dryRun ? '(measured when sent)' : formatDuration(elapsedMs)
    fields[i.elapsedLabel] = text
    message = message.replaceAll('{elapsed}', text)
  }
  return {
    id: `${ctx.runId}/${ctx.stepId}`,
    event: i.event,
    severity: i.severity,
    message,
    fields,
    details: i.details,
    evidence: i.evidenceFrom ? evidenceOf(ctx, i.evidenceFrom) : undefined,
    elapsedMs: ctx.dryRun ? undefined : elapsedMs,
    runId: ctx.runId,
    runbook: ctx.run.runbook || undefined,
    environment: ctx.envName,
    // PagerDuty's "affected system": the public name the runbooks move, else the environment.
    source: ctx.environment?.dns?.record.name ?? ctx.envName ?? 'clipper-ops',
    at: now.toISOString(),
  }
}

const SLACK_ICON: Record<Severity, string> = {info: ':information_source:', warning: ':warning:', error: ':x:', critical: ':rotating_light:'}

/** Slack's mrkdwn needs &, < and > escaped; clipped to `max` characters once escaped. */
function mrkdwn(raw: string, max: number): string {
  const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
  const full = esc(raw)
  if (full.length <= max) return full
  return `${esc(raw.slice(0, max - (full.length - raw.length) - 1))}…`
}

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

/** An incoming webhook's message: `text` (the notification and fallback) and Block Kit blocks within Slack's limits. */
export function slackPayload(n: Notice): {text: string; blocks: Record<string, unknown>[]} {
  const icon = SLACK_ICON[n.severity]
  const blocks: Record<string, unknown>[] = [{type: 'section', text: {type: 'mrkdwn', text: `${icon} ${mrkdwn(`*${n.message}*`, 2900)}`}}]
  const fields = Object.entries(n.fields).map(([k, v]) => ({type: 'mrkdwn', text: mrkdwn(`*${k}*\n${String(v)}`, 2000)}))
  // A section takes at most 10 fields.
  for (let k = 0; k < fields.length && blocks.length < 40; k += 10) blocks.push({type: 'section', fields: fields.slice(k, k + 10)})
  if (n.evidence) {
    // A failed gates step's error already names the gates that failed, with their numbers; a
    // passed one's summary only names them, so each gate's line follows.
    const lines = [n.evidence.text ?? '', ...(n.evidence.status === 'failed' ? [] : gateLines(n.evidence.data))].filter(Boolean)
    const body = lines.length ? lines.join('\n') : '(none)'
    blocks.push({type: 'section', text: {type: 'mrkdwn', text: `*Evidence* (${mrkdwn(n.evidence.step, 200)})\n\`\`\`${mrkdwn(body, 2700)}\`\`\``}})
  }
  const context = ['clipper-ops', n.environment, n.runbook, n.runId && `run ${n.runId}`, n.event].filter(Boolean).join(' · ')
  blocks.push({type: 'context', elements: [{type: 'mrkdwn', text: mrkdwn(context, 2000)}]})
  return {text: clip(n.message, 3000), blocks}
}

/** An Events API v2 event: a trigger carries the payload; acknowledge and resolve need only the dedup key. */
export function pagerdutyPayload(n: Notice, routingKey: string, action: Inputs['pagerduty']['action'], dedupKey: string): Record<string, unknown> {
  const base = {routing_key: routingKey, event_action: action, dedup_key: dedupKey}
  if (action !== 'trigger') return base
  return {
    ...base,
    payload: {
      summary: clip(n.message, 1024),
      source: n.source,
      severity: n.severity,
      timestamp: n.at,
      ...(n.runbook ? {component: n.runbook} : {}),
      ...(n.environment ? {group: n.environment} : {}),
      class: n.event,
      custom_details: customDetails(n),
    },
    client: 'clipper-ops',
  }
}

function customDetails(n: Notice): Record<string, unknown> {
  return {
    ...n.fields,
    ...n.details,
    event: n.event,
    run: n.runId,
    ...(n.runbook ? {runbook: n.runbook} : {}),
    ...(n.environment ? {environment: n.environment} : {}),
    ...(n.elapsedMs === undefined ? {} : {elapsedMs: n.elapsedMs}),
    ...(n.evidence ? {evidence: n.evidence} : {}),
  }
}

/** The generic webhook's JSON: `id` is the same on a resend after an interruption, for receivers to drop duplicates. */
export function webhookPayload(n: Notice): Record<string, unknown> {
  return {
    id: n.id,
    event: n.event,
    severity: n.severity,
    runId: n.runId,
    runbook: n.runbook ?? null,
    environment: n.environment ?? null,
    message: n.message,
    details: customDetails(n),
    at: n.at,
  }
}

export interface Delivery {
  provider: Provider
  delivered: boolean
  attempts: number
  status?: number
  error?: string
  /** PagerDuty's dedup key, as it answered. */
  dedupKey?: string
}

/** 429 and 5xx may pass on a later try; any other refusal (a malformed payload, a revoked webhook) will not. */
const retryable = (status: number) => status === 429 || status === 408 || status >= 500

function fetchError(error: unknown, timeoutMs: number): string {
  const e = error as {name?: string; cause?: {code?: string; message?: string}; message?: string}
  if (e.name === 'TimeoutError') return `no answer within ${formatDuration(timeoutMs)}`
  // The cause names the host and port at most, never the URL's path (where a webhook's secret is).
  return e.cause?.code ? `${e.cause.code}${e.cause.message ? ` (${e.cause.message})` : ''}` : (e.message ?? String(error))
}

async function post(ctx: StepContext, t: Target, body: unknown, i: Inputs): Promise<Delivery> {
  const timeoutMs = parseDuration(i.timeout)!
  const url = new URL(t.url!)
  const headers: Record<string, string> = {'content-type': 'application/json', 'user-agent': 'clipper-ops'}
  // fetch refuses URLs with credentials in them; a webhook given as https://user:pass@host/… gets them as Basic auth.
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  let last: Omit<Delivery, 'provider' | 'delivered' | 'attempts'>
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) throw ctx.signal.reason
    let waitMs = 500 * 2 ** (attempt - 1)
    try {
      const res = await fetch(url, {method: 'POST', headers, body: JSON.stringify(body), redirect: 'error', signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)])})
      const text = (await res.text()).slice(0, 300)
      if (res.ok) {
        let dedupKey: string | undefined
        try {
          dedupKey = (JSON.parse(text) as {dedup_key?: string}).dedup_key
        } catch {
          /* Slack answers "ok", a webhook anything */
        }
        return {provider: t.provider, delivered: true, attempts: attempt, status: res.status, ...(dedupKey ? {dedupKey} : {})}
      }
      last = {status: res.status, error: `HTTP ${res.status}${text.trim() ? `: ${text.trim()}` : ''}`}
      if (!retryable(res.status)) return {provider: t.provider, delivered: false, attempts: attempt, ...last}
      const after = Number(res.headers.get('retry-after'))
      if (after > 0) waitMs = after * 1000
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      last = {error: fetchError(error, timeoutMs)}
    }
    if (attempt >= i.attempts) return {provider: t.provider, delivered: false, attempts: attempt, ...last}
    ctx.log(`${t.provider}: attempt ${attempt} of ${i.attempts} failed (${last.error}); trying again`)
    await sleep(Math.min(waitMs, 5000), ctx.signal)
  }
}

function payloadFor(t: Target, n: Notice, i: Inputs, dedupKey: string): unknown {
  if (t.provider === 'slack') return slackPayload(n)
  if (t.provider === 'pagerduty') return pagerdutyPayload(n, t.routingKey!, i.pagerduty.action, dedupKey)
  return webhookPayload(n)
}

const dedupKeyOf = (ctx: StepContext, i: Inputs) => i.pagerduty.dedupKey ?? `clipper-ops/${ctx.envName ?? 'none'}/${ctx.runId}`

/** For people: "slack (https://hooks.slack.com/…)", "pagerduty trigger (https://events.pagerduty.com/v2/enqueue)". */
function describe(t: Target, i: Inputs): string {
  return `${t.provider === 'pagerduty' ? `pagerduty ${i.pagerduty.action}` : t.provider} (${t.where})`
}

const worstCaseMs = (i: Inputs) => i.attempts * parseDuration(i.timeout)! + Array.from({length: i.attempts - 1}, (_, k) => Math.min(500 * 2 ** k, 5000)).reduce((a, b) => a + b, 0)

export default defineStep({
  kind: 'notify',
  description: 'Tell people what the run is doing: Slack, PagerDuty (Events API v2), a JSON webhook; never fails the run',
  inputs,
  // A message is not a change to the platform: protected environments do not ask for it.
  mutates: () => false,
  title: (i) => `Notify ${i.to.join(', ')}: ${i.event}`,

  async plan(ctx, i) {
    const ts = targets(ctx, i)
    const n = notice(ctx, i)
    const ready = ts.filter((t) => !t.problem)
    const unsent = ts.filter((t) => t.problem)
    const left = i.to.filter((p) => !ts.some((t) => t.provider === p))
    const parts = [
      ready.length ? `would notify ${ready.map((t) => describe(t, i)).join(', ')}: "${n.message}"${n.evidence ? ', with evidence' : ''}` : `would send nothing: "${n.message}"`,
      unsent.length ? `not sent: ${unsent.map((t) => `${t.provider} (${t.problem})`).join(', ')}` : '',
      left.length ? `${left.join(', ')} not configured` : '',
    ]
    return {
      summary: parts.filter(Boolean).join('; '),
      changes: [],
      estimateMs: ready.length ? 200 : 0,
      worstCaseMs: ready.length ? worstCaseMs(i) : 0,
    }
  },

  async run(ctx, i) {
    const ts = targets(ctx, i)
    const n = notice(ctx, i)
    const dedupKey = dedupKeyOf(ctx, i)
    const delivered: Provider[] = []
    const results = await Promise.all(
      ts.map(async (t): Promise<Delivery> => {
        if (t.problem) return {provider: t.provider, delivered: false, attempts: 0, error: t.problem}
        const d = await post(ctx, t, payloadFor(t, n, i, dedupKey), i)
        if (d.delivered) {
          delivered.push(t.provider)
          // A resume does not send again what was delivered before an interruption (reconcile).
          await ctx.note({delivered: [...delivered]})
        }
        return d
      }),
    )
    const failed = results.filter((d) => !d.delivered)
    // Secrets missing from this shell: one line for all of them. A provider that failed: one each (its own error).
    const unset = ts.filter((t) => t.problem)
    if (unset.length) ctx.log(`warning: "${i.event}" not sent to ${unset.map((t) => t.provider).join(', ')}: ${unset.map((t) => t.problem).join(', ')}; the run goes on`)
    for (const d of failed.filter((x) => x.attempts > 0))
      ctx.log(`warning: ${d.provider} notification "${i.event}" not delivered: ${d.error}${d.attempts > 1 ? ` (after ${d.attempts} attempts)` : ''}; the run goes on`)
    const skipped = i.to.filter((p) => !ts.some((t) => t.provider === p))
    const sent = results.filter((d) => d.delivered).map((d) => d.provider)
    const summary = ts.length
      ? [sent.length ? `sent to ${sent.join(', ')}` : '', failed.length ? `NOT delivered to ${failed.map((d) => `${d.provider} (${d.error})`).join(', ')}` : '']
          .filter(Boolean)
          .join('; ')
      : `nothing sent: ${i.to.join(', ')} not configured`
    return {
      summary,
      outputs: {
        event: i.event,
        message: n.message,
        delivered: sent,
        notDelivered: failed.map((d) => d.provider),
        skipped,
        deliveries: results,
        ...(ts.some((t) => t.provider === 'pagerduty') ? {dedupKey} : {}),
        ...(n.elapsedMs === undefined ? {} : {elapsedMs: n.elapsedMs}),
      },
    }
  },

  /**
   * Interrupted while sending: done when every provider took it (noted as each answered). Else it
   * is sent again — a provider that had it may show it twice, which beats a page that never came;
   * the webhook's `id` and PagerDuty's dedup key let those two drop the duplicate.
   */
  async reconcile(ctx, i) {
    const ready = targets(ctx, i).filter((t) => !t.problem)
    const noted = ctx.previous.notes.delivered
    const had = Array.isArray(noted) ? (noted as string[]) : []
    if (ready.length > 0 && ready.every((t) => had.includes(t.provider))) {
      return {done: true, summary: `sent to ${had.join(', ')} before the interruption`, outputs: {event: i.event, delivered: had, notDelivered: [], skipped: []}}
    }
    return {done: false}
  },
})
