/**
 * `dns-weights`: set the two weighted records (legacy Docker Compose and Kubernetes) in one
 * change batch, then wait until Route 53 reports the change INSYNC. Idempotent: it reads the
 * live weights first and does nothing when they are already as wanted. The batch DELETEs the
 * exact live records, so a concurrent edit by someone else makes Route 53 refuse it rather than
 * be overwritten. After a crash it reads the live weights again (and waits for the noted change).
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {RunFailedError} from '../errors.js'
import {
  describeRecord,
  dnsConfig,
  effectiveTtl,
  judgePair,
  liveWeights,
  projectPair,
  readPair,
  ROLES,
  route53,
  shares,
  shiftChanges,
  submitChanges,
  validateWeights,
  waitInsync,
  withRetry,
  type DnsConfig,
  type LivePair,
  type Weights,
} from '../aws/route53.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {defineStep, type Change, type StepContext} from './types.js'

const weight = z.number({error: 'expected a weight from 0 to 255'}).int().min(0).max(255)

const inputs = z.strictObject({
  legacy: weight,
  kubernetes: weight,
  /** Replace a simple record of the same name with the weighted pair (one batch). */
  convert: z.boolean().default(false),
  /** Wait for GetChange to report INSYNC (default yes). */
  waitInsync: z.boolean().default(true),
  insyncTimeout: duration().default('10m'),
  comment: z.string().max(256).optional(),
  /**
   * A shift towards Kubernetes is refused when rolling it back (one batch back, INSYNC, the TTL)
   * could not fit this budget (the rollout passes slos.rollbackBudget).
   */
  rollbackBudget: duration('a rollback time budget').optional(),
})

type Inputs = z.output<typeof inputs>

/** What sending one batch back takes at worst (retries of Throttling included). */
const BATCH_BACK_MS = 10_000

/** Why a shift must not start: its worst-case rollback would not fit the rollback budget. */
function overRollbackBudget(i: Inputs, before: {kubernetes?: number}, ttlSeconds: number): string | undefined {
  if (!i.rollbackBudget || i.kubernetes <= (before.kubernetes ?? 0)) return undefined
  const budget = parseDuration(i.rollbackBudget)!
  const insync = parseDuration(i.insyncTimeout)!
  const worst = BATCH_BACK_MS + insync + ttlSeconds * 1000
  if (worst <= budget) return undefined
  return `refusing to shift to kubernetes ${i.kubernetes}: rolling it back could take up to ${formatDuration(worst)} (one batch back ${formatDuration(BATCH_BACK_MS)}, INSYNC up to ${formatDuration(insync)}, the TTL ${ttlSeconds}s), more than the rollback budget of ${formatDuration(budget)} (slos.rollbackBudget). Lower the record's TTL, or raise the budget.`
}

const projectionKey = (cfg: DnsConfig) => `route53:${cfg.zoneId}:${cfg.name}:${cfg.type}`

/** The pair as Route 53 has it now (throttling and 5xx retried). */
async function readLivePair(ctx: StepContext, cfg: DnsConfig): Promise<LivePair> {
  const client = await route53(ctx.environment, 1)
  return withRetry('ListResourceRecordSets', () => readPair(client, cfg, ctx.signal), {log: ctx.log, signal: ctx.signal})
}

/** The pair as a plan sees it: where earlier steps' plans leave it, else live. */
async function livePair(ctx: StepContext, cfg: DnsConfig): Promise<LivePair> {
  return (ctx.projected.get(projectionKey(cfg)) as LivePair | undefined) ?? readLivePair(ctx, cfg)
}

/** One update per record whose weight moves. */
function weightChanges(cfg: DnsConfig, before: Partial<Weights>, after: Partial<Weights>): Change[] {
  return ROLES.filter((r) => before[r] !== after[r]).map((r) => ({
    action: 'update' as const,
    target: `${cfg.name} ${cfg.type} [${cfg.targets[r].setIdentifier}] weight`,
    before: before[r],
    after: after[r],
  }))
}

/** Each role's share of the traffic, e.g. ['90%', '10%'] (weights need not add up to 100). */
function percents(w: Partial<Weights>): string[] {
  return shares(ROLES.map((r) => w[r] ?? 0)).map((s) => `${Math.round(s * 1000) / 10}%`)
}

function fmtWeights(w: Partial<Weights>): string {
  const pct = percents(w)
  return ROLES.map((r, i) => `${r} ${w[r] ?? '-'} (${pct[i]})`).join(', ')
}

function blockingProblems(cfg: DnsConfig, pair: LivePair, i: Inputs): string[] {
  return judgePair(cfg, pair)
    .filter((p) => p.level === 'error')
    .map((p) => p.message)
    .filter((m) => !(i.convert && m.includes('simple (non-weighted)')) && !(m.includes('no weighted record') && i.convert))
}

export default defineStep({
  kind: 'dns-weights',
  description: 'Set the weighted Route 53 pair (legacy, kubernetes) in one guarded change batch; wait for INSYNC',
  needs: ['aws'],
  inputs,
  mutates: () => true,
  title: (i) => `DNS weights → legacy ${i.legacy}, kubernetes ${i.kubernetes}`,

  async plan(ctx, i) {
    validateWeights(i)
    const cfg = dnsConfig(ctx.environment)
    const pair = await livePair(ctx, cfg)
    const want = {legacy: i.legacy, kubernetes: i.kubernetes}
    const before = liveWeights(pair)
    const problems = blockingProblems(cfg, pair, i).filter((m) => !m.startsWith('both weights are 0'))
    if (problems.length) throw new RunFailedError(`the live records are not safe to shift: ${problems.join('; ')}`, {code: 'UNSAFE_RECORDS'})
    const changes = shiftChanges(cfg, pair, want, {convert: i.convert})
    ctx.projected.set(projectionKey(cfg), projectPair(pair, changes, cfg))
    const ttl = effectiveTtl(cfg, pair)
    const over = overRollbackBudget(i, before, ttl)
    if (over) throw new RunFailedError(over, {code: 'OVER_BUDGET'})
    const observed = ROLES.map((r) => describeRecord(pair.byRole[r]))
    if (changes.length === 0) {
      return {
        summary: `already ${fmtWeights(want)}`,
        changes: [{action: 'none', target: `${cfg.name} ${cfg.type}`, before, after: want}],
        observed,
        outputs: {before, after: want, ttlSeconds: ttl},
      }
    }
    const batch = {HostedZoneId: cfg.zoneId, ChangeBatch: {Comment: i.comment ?? `clipper-ops ${ctx.runId}`, Changes: changes}}
    return {
      summary: `${fmtWeights(before)} → ${fmtWeights(want)} in one change batch`,
      changes: weightChanges(cfg, before, want),
      observed,
      outputs: {before, after: want, ttlSeconds: ttl},
      estimateMs: i.waitInsync ? 30_000 : 1_000,
      worstCaseMs: i.waitInsync ? parseDuration(i.insyncTimeout)! : 10_000,
      review: [
        '| Record | Weight before | Weight after | Share after |',
        '|---|---|---|---|',
        ...ROLES.map(
          (r, n) =>
            `| ${cfg.name} ${cfg.type} \`${cfg.targets[r].setIdentifier}\` (${r}) | ${before[r] ?? '-'} | ${want[r]} | ${Math.round(shares([want.legacy, want.kubernetes])[n]! * 1000) / 10}% |`,
        ),
        '',
        'The exact change batch (each DELETE must match the live record exactly, so a concurrent edit is refused, not overwritten):',
        '',
        '```json',
        JSON.stringify(batch, null, 2),
        '```',
      ].join('\n'),
    }
  },

  async run(ctx, i) {
    validateWeights(i)
    const cfg = dnsConfig(ctx.environment)
    const client = await route53(ctx.environment, 1)
    const want = {legacy: i.legacy, kubernetes: i.kubernetes}
    const pair = await livePair(ctx, cfg)
    const before = liveWeights(pair)
    // Compared on the very read the batch is built from (its DELETEs): an edit after this read
    // makes Route 53 refuse the batch; one before it is caught here. Nobody is overruled.
    // Before the first shift, the preflight's reading (dns-check) is where this run found them.
    const last = ctx.run.lastOfKind(['dns-check'])
    const left = (last?.kind === 'dns-check' ? last.outputs?.weights : last?.outputs?.after) as Weights | undefined
    if (left && !ROLES.every((r) => left[r] === before[r])) {
      throw new RunFailedError(
        `the weights of ${cfg.name} are ${fmtWeights(before)}, but this run ${last?.kind === 'dns-check' ? 'found' : 'left'} them at ${fmtWeights(left)}: someone else changed them since (a rollback, a colleague with the AWS CLI?). Nothing was changed by this step, and nothing is rolled back over their change; check "clipper-ops dns status" and "clipper-ops audit" before going on.`,
        {code: 'CONCURRENT_EDIT'},
      )
    }
    const problems = blockingProblems(cfg, pair, i).filter((m) => !m.startsWith('both weights are 0'))
    if (problems.length) throw new RunFailedError(`the live records are not safe to shift: ${problems.join('; ')}`, {code: 'UNSAFE_RECORDS'})
    const changes = shiftChanges(cfg, pair, want, {convert: i.convert})
    const ttl = effectiveTtl(cfg, pair)
    if (changes.length === 0) {
      ctx.log(`already ${fmtWeights(want)}; no change batch sent`)
      return {
        summary: `already ${fmtWeights(want)}`,
        outputs: {before, after: want, ttlSeconds: ttl, changeId: null},
        changes: [{action: 'none', target: `${cfg.name} ${cfg.type}`}],
      }
    }
    // At each shift, before it starts: its rollback must fit the budget.
    const over = overRollbackBudget(i, before, ttl)
    if (over) throw new RunFailedError(over, {code: 'OVER_BUDGET'})
    ctx.log(`sending one change batch: ${fmtWeights(before)} → ${fmtWeights(want)}`)
    // Noted before sending: if the process dies before the result is journaled, the resume that
    // finds the weights in place still reports the change it made (before → after).
    await ctx.note({before})
    const made = weightChanges(cfg, before, want)
    let changeId: string
    const submittedAt = Date.now()
    try {
      // The lease rides in the same batch where it lives in this zone: lost meanwhile, nothing changes.
      const r = await ctx.fenced((lease) =>
        submitChanges(
          client,
          cfg,
          lease?.zoneId === cfg.zoneId ? [...changes, ...(lease.changes as typeof changes)] : changes,
          i.comment ?? `clipper-ops ${ctx.runId} ${ctx.stepId}`,
          {
            log: ctx.log,
            signal: ctx.signal,
          },
        ),
      )
      changeId = r.changeId
    } catch (error) {
      if ((error as {name?: string}).name !== 'InvalidChangeBatch') throw error
      // A DELETE did not match: the records or the lock changed since we read them. Maybe it was
      // our own request (a retry after a lost answer); a lost lease stops the run here; otherwise
      // it was someone else's edit, and we stop.
      const now = await readPair(client, cfg, ctx.signal)
      const live = liveWeights(now)
      if (live.legacy === want.legacy && live.kubernetes === want.kubernetes) {
        ctx.log('Route 53 refused the batch because the records are already as wanted (an earlier attempt went through)')
        return {summary: `${fmtWeights(before)} → ${fmtWeights(want)} (an earlier attempt's batch)`, outputs: {before, after: want, ttlSeconds: ttl, changeId: null}, changes: made}
      }
      await ctx.fence()
      throw new RunFailedError(
        `Route 53 refused the change batch: ${(error as Error).message}. The records changed since they were read (someone else's edit?): now ${fmtWeights(live)}. Nothing was changed by this step, and nothing is rolled back over their change; check "clipper-ops dns status" and "clipper-ops audit" before going on.`,
        {code: 'CONCURRENT_EDIT'},
      )
    }
    await ctx.note({changeId, submittedAt: new Date(submittedAt).toISOString()})
    ctx.audit('dns.shift', {changeId, before, after: want, record: `${cfg.name} ${cfg.type}`})
    const acceptedMs = Date.now() - submittedAt
    let insyncMs: number | null = null
    if (i.waitInsync) {
      ctx.log(`change ${changeId} accepted; waiting for INSYNC`)
      try {
        insyncMs = await waitInsync(client, changeId, {timeoutMs: parseDuration(i.insyncTimeout)!, log: ctx.log, signal: ctx.signal})
      } catch (error) {
        if (ctx.signal.aborted || error instanceof RunFailedError) throw error
        // Say what is known: the batch went in; only its propagation is unconfirmed.
        throw new RunFailedError(
          `Route 53 accepted change ${changeId} (${fmtWeights(before)} → ${fmtWeights(want)}), but waiting for it to be INSYNC failed: ${(error as Error).message}. The records are changed; whether every Route 53 server answers with them yet is not known.`,
          {code: 'INSYNC_UNCONFIRMED', cause: error},
        )
      }
    }
    return {
      summary: `${fmtWeights(before)} → ${fmtWeights(want)} (change ${changeId}${insyncMs !== null ? `, INSYNC after ${(insyncMs / 1000).toFixed(1)}s` : ''})`,
      outputs: {before, after: want, ttlSeconds: ttl, changeId, acceptedMs, insyncMs, submittedAt: new Date(submittedAt).toISOString()},
      changes: made,
    }
  },

  async checkUnmoved(ctx, done) {
    // Where this run's last shift left the weights: its result, or — left in doubt — either side of its batch.
    const acted = done.filter((r) => r.status === 'succeeded' || r.status === 'running')
    const last = acted.at(-1)
    if (!last) return undefined
    const before = (last.notes.before as Weights | undefined) ?? (acted.at(-2)?.outputs?.after as Weights | undefined)
    // Killed before it read the weights, with no shift before it: where it started is unknown.
    if (last.status === 'running' && !before) return undefined
    const allowed: Partial<Weights>[] = last.status === 'succeeded' ? [last.outputs?.after as Weights] : [last.inputs as Weights, before!]
    const cfg = dnsConfig(ctx.environment)
    const live = liveWeights(await readLivePair(ctx, cfg))
    if (allowed.some((w) => ROLES.every((r) => w[r] === live[r]))) return undefined
    return `the weights of ${cfg.name} are ${fmtWeights(live)}, but this run left them at ${allowed.map(fmtWeights).join(' or ')}: someone else changed them since (a rollback, a colleague with the AWS CLI?)`
  },

  async readBack(ctx) {
    const cfg = dnsConfig(ctx.environment)
    const weights = liveWeights(await readLivePair(ctx, cfg))
    const pct = percents(weights)
    return {
      summary: `Traffic now on ${cfg.name.replace(/\.$/, '')}: ${ROLES.map((r, n) => `${r} ${pct[n]}`).join(', ')} (weights ${ROLES.map((r) => weights[r] ?? '-').join('/')}, read back from Route 53)`,
      data: {record: cfg.name, weights},
    }
  },

  async reconcile(ctx, i) {
    // Read the world: if the weights are as wanted, the batch went through; finish its INSYNC wait.
    const cfg = dnsConfig(ctx.environment)
    const pair = await readLivePair(ctx, cfg)
    const live = liveWeights(pair)
    if (live.legacy !== i.legacy || live.kubernetes !== i.kubernetes) return {done: false}
    const changeId = ctx.previous.notes.changeId as string | undefined
    const before = ctx.previous.notes.before as Partial<Weights> | undefined
    let insyncMs: number | null = null
    if (changeId && i.waitInsync) {
      ctx.log(`weights are already as wanted; waiting for change ${changeId} to be INSYNC`)
      insyncMs = await waitInsync(await route53(ctx.environment, 1), changeId, {timeoutMs: parseDuration(i.insyncTimeout)!, log: ctx.log, signal: ctx.signal})
    }
    return {
      done: true,
      summary: `already ${fmtWeights(live)} (found after the interruption${changeId ? `; change ${changeId}` : ''})`,
      outputs: {before: before ?? live, after: live, ttlSeconds: effectiveTtl(cfg, pair), changeId: changeId ?? null, insyncMs},
      changes: before ? weightChanges(cfg, before, live) : [],
    }
  },
})
