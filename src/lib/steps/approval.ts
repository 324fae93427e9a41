/**
 * `approval`: a person says yes before the run goes on. `--yes` answers it (and the answer is
 * recorded as given by the flag). "No", Ctrl-C at the prompt, a timeout, or no terminal to ask on
 * (without --yes) pause the run: it stops here, resumable, and nothing is undone. It never hangs
 * waiting for input that cannot come.
 */
import {z} from 'zod'
import {RunPausedError} from '../errors.js'
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
    // Without an answer the run pauses here: nothing after this step runs and nothing is undone.
    if (!ctx.prompt.interactive) {
      throw new RunPausedError(
        `Approval needed: "${i.message}". There is no terminal to ask on (or --no-input was given). To approve, continue with --yes: clipper-ops runs resume ${ctx.runId} --yes`,
        {code: 'APPROVAL_REQUIRED'},
      )
    }
    let ok: boolean
    try {
      ok = await ctx.prompt.confirm(i.message, {default: false, timeoutMs: parseDuration(i.timeout)})
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      // Ctrl-C on a prompt reaches the prompt (the terminal is in raw mode), not the process.
      const name = (error as Error).name
      const why = name === 'ExitPromptError' ? 'interrupted at the prompt (Ctrl-C)' : name === 'AbortPromptError' ? `no answer within ${i.timeout}` : (error as Error).message
      throw new RunPausedError(`Approval not given: ${why}. Nothing after this step ran.`, {code: name === 'ExitPromptError' ? 'INTERRUPTED' : 'APPROVAL_REQUIRED'})
    }
    ctx.audit('approval', {message: i.message, approved: ok, how: 'prompt'})
    if (!ok) throw new RunPausedError(`Not approved: "${i.message}". The run is paused here; nothing after this step ran.`, {code: 'NOT_APPROVED'})
    return {summary: 'approved', outputs: {approved: true, how: 'prompt'}}
  },
})
