/**
 * `dns-check`: the read-only preflight of a traffic shift. The weighted pair must exist as the
 * config describes it (set identifiers, values or alias target), not be all-zero, have no simple
 * record beside it and no TTL above dns.maxTtl; optionally the weights must be what the runbook
 * expects; and no earlier change batch of ours may still be PENDING (a run that died right
 * after a shift leaves one in flight).
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {z} from 'zod'
import {RunFailedError} from '../errors.js'
import {dnsConfig, effectiveTtl, judgePair, liveWeights, readPair, route53, withRetry} from '../aws/route53.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  /** Fail unless the live weights are these. */
  expect: z.strictObject({legacy: z.number().int().min(0).max(255), kubernetes: z.number().int().min(0).max(255)}).optional(),
  /** Look for change batches of recent runs on this environment that are still PENDING. */
  pendingChanges: z.boolean().default(true),
})

/** Change ids that runs on this environment recorded in the last hour (newest first). */
function recentChangeIds(ctx: StepContext): {changeId: string; runId: string}[] {
  const runs = join(ctx.stateDir, 'runs')
  const out: {changeId: string; runId: string; at: string}[] = []
  let ids: string[]
  try {
    ids = readdirSync(runs)
  } catch {
    return []
  }
  const since = Date.now() - 3_600_000
  for (const id of ids.slice(-50)) {
    if (id === ctx.runId) continue
    try {
      const s = JSON.parse(readFileSync(join(runs, id, 'state.json'), 'utf8'))
      if (s.environment !== ctx.envName || Date.parse(s.updatedAt) < since) continue
      for (const step of s.steps ?? []) {
        const changeId = step.outputs?.changeId ?? step.notes?.changeId
        if (typeof changeId === 'string') out.push({changeId, runId: id, at: step.endedAt ?? step.startedAt ?? s.updatedAt})
      }
    } catch {
      /* a run being written; skip it */
    }
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).slice(0, 5)
}

async function check(ctx: StepContext, i: z.output<typeof inputs>) {
  const cfg = dnsConfig(ctx.environment)
  const client = await route53(ctx.environment)
  const pair = await withRetry('ListResourceRecordSets', () => readPair(client, cfg, ctx.signal), {log: ctx.log, signal: ctx.signal})
  const problems = judgePair(cfg, pair)
    .filter((p) => p.level === 'error')
    .map((p) => p.message)
  const weights = liveWeights(pair)
  if (i.expect && (weights.legacy !== i.expect.legacy || weights.kubernetes !== i.expect.kubernetes)) {
    problems.push(
      `the weights are legacy ${weights.legacy ?? '-'}, kubernetes ${weights.kubernetes ?? '-'}; this runbook expects legacy ${i.expect.legacy}, kubernetes ${i.expect.kubernetes}`,
    )
  }
  const pending: string[] = []
  if (i.pendingChanges) {
    const {GetChangeCommand} = await import('@aws-sdk/client-route-53')
    for (const c of recentChangeIds(ctx)) {
      const r = await withRetry('GetChange', () => client.send(new GetChangeCommand({Id: c.changeId}), {abortSignal: ctx.signal}), {signal: ctx.signal}).catch(() => undefined)
      if (r?.ChangeInfo?.Status === 'PENDING') pending.push(`change ${c.changeId} of run ${c.runId} is still PENDING`)
    }
  }
  return {cfg, pair, weights, problems: [...problems, ...pending], ttl: effectiveTtl(cfg, pair)}
}

export default defineStep({
  kind: 'dns-check',
  description: 'Preflight (read-only): the weighted pair is as configured, safe, TTL within bounds, no change of ours pending',
  needs: ['aws'],
  inputs,
  mutates: () => false,
  title: () => 'DNS preflight: weighted pair consistent, safe, nothing pending',

  async plan(ctx, i) {
    const {weights, problems, ttl, cfg} = await check(ctx, i)
    return {
      summary: problems.length ? `would fail: ${problems.join('; ')}` : `${cfg.name} legacy ${weights.legacy}, kubernetes ${weights.kubernetes}; TTL ${ttl}s`,
      changes: [{action: 'check', target: `${cfg.name} ${cfg.type}`}],
      observed: weights,
      outputs: {weights, ttlSeconds: ttl},
    }
  },

  async run(ctx, i) {
    const {weights, problems, ttl, cfg} = await check(ctx, i)
    if (problems.length) throw new RunFailedError(`${cfg.name} ${cfg.type} is not safe to shift: ${problems.join('; ')}`, {code: 'PREFLIGHT'})
    return {summary: `legacy ${weights.legacy}, kubernetes ${weights.kubernetes}; a change reaches everyone ${ttl}s after INSYNC`, outputs: {weights, ttlSeconds: ttl}}
  },
})
