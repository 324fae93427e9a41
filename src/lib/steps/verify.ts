/**
 * `verify`: the infrastructure record's pre-deployment checklist or post-deployment validation
 * (../verify/), as a step: it fails when any check fails, and passes with warnings. The checks
 * that run follow from what the environment's config declares.
 */
import {z} from 'zod'
import {RunFailedError, UsageError} from '../errors.js'
import {checksFor, verify} from '../verify/index.js'
import {verifySummary} from '../report/verify-report.js'
import {defineStep} from './types.js'

const inputs = z.strictObject({
  phase: z.enum(['pre', 'post'], {error: 'expected a phase: pre (before a deployment) or post (after it)'}),
})

export default defineStep({
  kind: 'verify',
  description: 'The pre-deployment checklist or the post-deployment validation: every check passes, warns or fails with its reason',
  needs: ['aws'],
  inputs,
  mutates: () => false,
  title: (i) => `Verify (${i.phase === 'pre' ? 'before' : 'after'} the deployment)`,

  async plan(ctx, i) {
    if (!ctx.environment) throw new UsageError('verify needs an environment (--env).', {code: 'NO_ENV'})
    const checks = checksFor(ctx.environment, i.phase)
    return {
      summary: `${checks.length} check(s): ${checks.map((c) => c.id).join(', ') || 'none configured'}`,
      changes: checks.map((c) => ({action: 'check' as const, target: c.id, detail: c.title})),
      estimateMs: 5000,
      worstCaseMs: 60_000,
    }
  },

  async run(ctx, i) {
    if (!ctx.environment) throw new UsageError('verify needs an environment (--env).', {code: 'NO_ENV'})
    const results = await verify(ctx, ctx.environment, i.phase)
    for (const r of results) ctx.log(`${r.status === 'pass' ? '✔' : r.status === 'warn' ? '⚠' : '✖'} ${r.id}: ${r.detail}`)
    const failed = results.filter((r) => r.status === 'fail')
    if (failed.length) {
      throw new RunFailedError(`${failed.length} of ${results.length} check(s) failed:\n  ${failed.map((r) => `${r.id}: ${r.detail}`).join('\n  ')}`, {
        code: 'VERIFY_FAILED',
        details: {checks: results},
      })
    }
    return {
      summary: verifySummary(results),
      outputs: {checks: results},
      changes: results.map((r) => ({action: 'check' as const, target: r.id, detail: `${r.status}: ${r.detail}`})),
    }
  },
})
