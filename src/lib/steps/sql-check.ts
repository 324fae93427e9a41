/**
 * `sql-check`: connect to a (restored) PostgreSQL over a real connection and validate it: the
 * config's SQL checks (each query's first value within min/max) and the freshness query (the
 * newest row's time: what the restore really holds). With `since`, it also judges the recovery
 * objectives from what it measured: RTO = since → validation passed, RPO = since − the newest
 * row restored, each against its target; a miss fails the step with both figures.
 *
 * Credentials come from the environment variable named by database.urlEnv (the live database's
 * URL: a restore keeps the source's master user); host and port are the restored instance's.
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {RunFailedError, UsageError} from '../errors.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {sleep} from '../util/sleep.js'
import {defineStep, type StepContext} from './types.js'

const check = z.strictObject({name: z.string().min(1), sql: z.string().min(1), min: z.number().optional(), max: z.number().optional()})

const inputs = z.strictObject({
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535),
  /** Checks beside (or instead of) dr.checks. */
  checks: z.array(check).optional(),
  freshness: z.string().min(1).optional(),
  /** How long to keep trying to connect (a restored instance may refuse connections at first). */
  connectTimeout: duration('a timeout').default('5m'),
  /** The moment the recovery started (the drill's start): RTO and RPO are measured from it. */
  since: z.string().datetime({offset: true, error: 'expected an ISO 8601 time'}).optional(),
  rto: duration('a recovery time objective').optional(),
  rpo: duration('a recovery point objective').optional(),
})
type Inputs = z.output<typeof inputs>

interface CheckResult {
  name: string
  value: number | null
  ok: boolean
  detail: string
}

function connectionUrl(ctx: StepContext, i: Inputs): URL {
  const name = ctx.environment?.database?.urlEnv
  if (!name)
    throw new UsageError('sql-check needs database.urlEnv: the NAME of an environment variable holding the database URL (its user and password are used).', {code: 'NO_DB_URL'})
  const raw = ctx.childEnv[name] ?? process.env[name]
  if (!raw) throw new UsageError(`The environment variable ${name} (database.urlEnv) is not set.`, {code: 'NO_DB_URL'})
  const url = new URL(raw)
  if (url.password) ctx.secret(decodeURIComponent(url.password))
  url.hostname = i.host
  url.port = String(i.port)
  return url
}

async function connect(ctx: StepContext, url: URL, timeoutMs: number) {
  const {default: pg} = await import('pg')
  const started = Date.now()
  let delay = 500
  for (;;) {
    const client = new pg.Client({connectionString: url.toString(), connectionTimeoutMillis: 10_000, statement_timeout: 60_000})
    try {
      await client.connect()
      return client
    } catch (error) {
      await client.end().catch(() => undefined)
      // Refused credentials or a missing database will not change by waiting: say so now.
      const code = (error as {code?: string}).code
      if (code === '28P01' || code === '28000' || code === '3D000')
        throw new RunFailedError(`${url.hostname}:${url.port} refused the connection: ${(error as Error).message} (SQLSTATE ${code}).`, {code: 'DB_REFUSED'})
      if (Date.now() - started > timeoutMs)
        throw new RunFailedError(`Could not connect to ${url.hostname}:${url.port} within ${formatDuration(timeoutMs)}: ${(error as Error).message}`, {code: 'DB_UNREACHABLE'})
      ctx.log(`not connectable yet (${(error as Error).message}); retrying`)
      await sleep(delay, ctx.signal)
      delay = Math.min(delay * 2, 5000)
    }
  }
}

function judge(c: z.infer<typeof check>, raw: unknown): CheckResult {
  const value = raw === null || raw === undefined ? null : Number(raw)
  if (value === null || Number.isNaN(value)) return {name: c.name, value: null, ok: false, detail: `returned ${JSON.stringify(raw)}, not a number`}
  const low = c.min !== undefined && value < c.min
  const high = c.max !== undefined && value > c.max
  const bounds = [c.min !== undefined ? `≥ ${c.min}` : '', c.max !== undefined ? `≤ ${c.max}` : ''].filter(Boolean).join(' and ')
  return {name: c.name, value, ok: !low && !high, detail: `${value}${bounds ? ` (expected ${bounds})` : ''}`}
}

export default defineStep({
  kind: 'sql-check',
  description: 'Validate a (restored) PostgreSQL over a real connection: SQL checks, the newest row, and RTO/RPO against their targets',
  inputs,
  mutates: () => false,
  title: () => 'Validate the restored database',

  async plan(ctx, i) {
    const checks = i.checks ?? ctx.environment?.dr?.checks ?? []
    return {
      summary: `${checks.length} SQL check(s)${(i.freshness ?? ctx.environment?.dr?.freshness) ? ', the newest row' : ''}${i.since ? ', RTO and RPO against their targets' : ''}`,
      changes: checks.map((c) => ({action: 'check' as const, target: c.name, detail: c.sql})),
      estimateMs: 5000,
    }
  },

  async run(ctx, i) {
    const checks = i.checks ?? ctx.environment?.dr?.checks ?? []
    const freshness = i.freshness ?? ctx.environment?.dr?.freshness
    const url = connectionUrl(ctx, i)
    const client = await connect(ctx, url, parseDuration(i.connectTimeout)!)
    const connectedAt = new Date()
    let results: CheckResult[]
    let newestRow: Date | undefined
    try {
      results = []
      for (const c of checks) {
        try {
          const r = await client.query({text: c.sql, rowMode: 'array'})
          results.push(judge(c, r.rows[0]?.[0]))
        } catch (error) {
          results.push({name: c.name, value: null, ok: false, detail: `query failed: ${(error as Error).message}`})
        }
        ctx.log(`${results.at(-1)!.ok ? '✔' : '✖'} ${c.name}: ${results.at(-1)!.detail}`)
      }
      if (freshness) {
        const r = await client.query({text: freshness, rowMode: 'array'})
        const v = r.rows[0]?.[0]
        newestRow = v instanceof Date ? v : v ? new Date(String(v)) : undefined
        ctx.log(`newest row: ${newestRow?.toISOString() ?? 'none'}`)
      }
    } finally {
      await client.end().catch(() => undefined)
    }
    const validatedAt = new Date()
    const measured = measure(ctx, i, validatedAt, newestRow)
    const outputs = {
      host: i.host,
      port: i.port,
      connectedAt: connectedAt.toISOString(),
      validatedAt: validatedAt.toISOString(),
      newestRow: newestRow?.toISOString(),
      checks: results,
      ...measured,
    }
    const problems = [
      ...results.filter((r) => !r.ok).map((r) => `check ${r.name}: ${r.detail}`),
      ...(freshness && !newestRow ? ['the freshness query returned no row time'] : []),
      ...(measured.rtoMet === false ? [`RTO ${formatDuration(measured.rtoMs!)} exceeds the target ${formatDuration(measured.rtoTargetMs!)}`] : []),
      ...(measured.rpoMet === false ? [`RPO ${formatDuration(measured.rpoMs!)} exceeds the target ${formatDuration(measured.rpoTargetMs!)}`] : []),
    ]
    const figures = [measured.rtoMs !== undefined ? `RTO ${formatDuration(measured.rtoMs)}` : '', measured.rpoMs !== undefined ? `RPO ${formatDuration(measured.rpoMs)}` : '']
      .filter(Boolean)
      .join(', ')
    // Kept in the journal also when the step fails: the drill report shows what was measured.
    await ctx.note({measured: outputs})
    if (problems.length)
      throw new RunFailedError(`Validation failed: ${problems.join('; ')}.${figures ? ` Measured: ${figures}.` : ''}`, {code: 'VALIDATION_FAILED', details: outputs})
    return {summary: `${results.length} check(s) passed${figures ? `; ${figures}` : ''}`, outputs}
  },
})

/** RTO and RPO from what was measured, against their targets (default: the environment's SLOs). */
function measure(ctx: StepContext, i: Inputs, validatedAt: Date, newestRow: Date | undefined) {
  if (!i.since) return {}
  const since = new Date(i.since)
  const rtoTargetMs = parseDuration(i.rto ?? ctx.environment?.slos?.rto ?? '1h')!
  const rpoTargetMs = parseDuration(i.rpo ?? ctx.environment?.slos?.rpo ?? '15m')!
  const rtoMs = validatedAt.getTime() - since.getTime()
  const rpoMs = newestRow ? Math.max(0, since.getTime() - newestRow.getTime()) : undefined
  return {since: since.toISOString(), rtoMs, rtoTargetMs, rtoMet: rtoMs <= rtoTargetMs, rpoMs, rpoTargetMs, rpoMet: rpoMs === undefined ? undefined : rpoMs <= rpoTargetMs}
}
