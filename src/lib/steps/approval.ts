/**
 * `approval`: a person says yes before the run goes on. `--yes` answers it (and the answer is
 * recorded as given by the flag). Without a terminal and without --yes the run stops with a
 * message that says how to continue; it never hangs waiting for input that cannot come.
 */
import {z} from 'zod'
import {RunFailedError} from '../errors.js'
import {duration} from '../config/schema.js'
import {parseDuration} from '../util/duration.js'
import {defineStep} from './types.js'

const inputs = z.strictObject({
  message: z
    .string({error: 'expected the question to ask, e.g. "Shift 50% of traffic to Kubernetes?"'})
    .min(1, {error: 'expected the question to ask, e.g. "Shift 50% of traffic to Kubernetes?"'}),
  /** Give up asking after this long (the run stops; resume to be asked again). */
  timeout: duration().default('30m'),
})

export default defineStep({
  kind: 'approval',
  description: 'Ask an operator to approve before going on (--yes approves; never prompts without a TTY)',
  inputs,
  mutates: () => false,
  title: (i) => `Approval: ${i.message}`,

  async plan(_ctx, i) {
    return {summary: `ask: ${i.message}`, changes: [{action: 'ask', target: i.message}]}
  },

  async run(ctx, i) {
    if (ctx.prompt.yes) {
      ctx.audit('approval', {message: i.message, approved: true, how: '--yes'})
      return {summary: 'approved by --yes', outputs: {approved: true, how: 'yes-flag'}}
    }
    if (!ctx.prompt.interactive) {
      throw new RunFailedError(
        `Approval needed: "${i.message}". There is no terminal to ask on (or --no-input was given). To approve, continue with --yes: clipper-ops runs resume ${ctx.runId} --yes`,
        {code: 'APPROVAL_REQUIRED'},
      )
    }
    let ok: boolean
    try {
      ok = await ctx.prompt.confirm(i.message, {default: false, timeoutMs: parseDuration(i.timeout)})
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      throw new RunFailedError(`Approval not given: ${(error as Error).message}. Continue with: clipper-ops runs resume ${ctx.runId}`, {code: 'APPROVAL_REQUIRED'})
    }
    ctx.audit('approval', {message: i.message, approved: ok, how: 'prompt'})
    if (!ok) throw new RunFailedError(`Not approved: "${i.message}". Nothing after this step ran.`, {code: 'NOT_APPROVED'})
    return {summary: 'approved', outputs: {approved: true, how: 'prompt'}}
  },
})
