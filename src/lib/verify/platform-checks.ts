/**
 * Checks of what users get: the weighted DNS pair, the health endpoints, and the environment's
 * CloudWatch alarms — judged as the rollout's own steps judge them.
 */
import {errorMessage} from '../errors.js'
import {probe} from '../http/probe.js'
import {fail, pass, verdict, warn, type Check, type Phase} from './check.js'
import {dnsStatus} from '../aws/dns-status.js'
import {readHistory} from '../dr/history.js'
import {formatDuration, parseDuration} from '../util/duration.js'

const dns = (phase: Phase): Check => ({
  id: phase === 'pre' ? 'dns-pair' : 'dns-weights',
  phase,
  title: phase === 'pre' ? 'DNS pair consistent with the config' : 'Route 53 weights and TTL',
  applies: (env) => Boolean(env.dns && env.aws),
  async run(ctx, env) {
    const s = await dnsStatus(env, ctx.signal)
    const weights = s.records
      .filter((r) => r.role)
      .map((r) => `${r.role} ${r.weight} (${r.share}%)`)
      .join(', ')
    const ttl = `TTL ${s.effectiveTtlSeconds}s (max ${env.dns!.maxTtl}s)`
    const errors = s.problems.filter((p) => p.level === 'error').map((p) => p.message)
    const warnings = s.problems.filter((p) => p.level !== 'error').map((p) => p.message)
    if (errors.length) return fail(errors.join('; '))
    if (warnings.length) return warn(`${weights}, ${ttl}; ${warnings.join('; ')}`)
    return pass(`${s.record.name}: ${weights}, ${ttl}`)
  },
})

const health: Check = {
  id: 'health',
  phase: 'post',
  title: 'Health endpoints answering',
  applies: (env) => Boolean(env.compose?.healthUrl || env.kubernetes?.healthUrl || env.dns?.probeUrl),
  async run(ctx, env) {
    const urls = [
      ['legacy', env.compose?.healthUrl],
      ['kubernetes', env.kubernetes?.healthUrl],
      ['public', env.dns?.probeUrl],
    ].filter((u): u is [string, string] => Boolean(u[1]))
    const problems: string[] = []
    const seen: string[] = []
    await Promise.all(
      urls.map(async ([name, url]) => {
        const r = await probe({url, requests: 3, concurrency: 3, timeoutMs: 5000, signal: ctx.signal})
        if (r.errors) problems.push(`${name} ${url}: ${r.errors} of ${r.requests} failed (${r.sampleErrors.join(', ')})`)
        else seen.push(`${name} ${r.p95Ms}ms`)
      }),
    )
    return verdict(problems, `all answer: ${seen.join(', ')}`)
  },
}

const alarms: Check = {
  id: 'alarms',
  phase: 'post',
  title: 'No CloudWatch alarm of the environment in ALARM',
  applies: (env) => Boolean(env.aws && env.cloudwatch?.alarms.length),
  async run(ctx) {
    // The same judgement as the rollout's alarm gate, looked at once.
    const gate = await ctx.kinds.load('gate-cloudwatch-alarms')
    try {
      const r = await gate.run(ctx, gate.inputs.parse({duration: '0s', allowInsufficientData: true}))
      return pass(r.summary ?? 'no alarm in ALARM')
    } catch (error) {
      return fail(errorMessage(error).replace(/\s*\n\s*/g, '; '))
    }
  },
}

/** The restore is only as good as its last drill: warn when the last passing one is too old. */
const drill: Check = {
  id: 'dr-drill',
  phase: 'post',
  title: 'A recent passing DR drill',
  applies: (env) => Boolean(env.dr?.maxAge),
  async run(ctx, env) {
    const drills = await readHistory(env, ctx.envName ?? '', ctx.stateDir)
    const passed = drills.filter((d) => d.verdict === 'pass').at(-1)
    const maxAge = parseDuration(env.dr!.maxAge!)!
    if (!passed) return warn(`no passing drill recorded${drills.length ? ` (${drills.length} failed)` : ''}; run clipper-ops dr drill --env ${ctx.envName}`)
    const age = Date.now() - Date.parse(passed.startedAt)
    const figures = `RTO ${formatDuration(passed.rto?.ms ?? 0)}, RPO ${formatDuration(passed.rpo?.ms ?? 0)}`
    return age > maxAge
      ? warn(`the last passing drill is ${formatDuration(age)} old (more than dr.maxAge ${env.dr!.maxAge}): ${passed.runId}, ${figures}`)
      : pass(`last passing drill ${formatDuration(age)} ago: ${passed.runId}, ${figures}`)
  },
}

export const PLATFORM_CHECKS: Check[] = [dns('pre'), dns('post'), health, alarms, drill]
