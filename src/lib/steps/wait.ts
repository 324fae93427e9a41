/**
 * `wait`: let time pass (a TTL to expire, a bake period). On resume the wait continues from
 * when it first started rather than starting over: the time that passed while the run was dead
 * counts, because the world went on without us.
 */
import {z} from 'zod'
import {duration} from '../config/schema.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {sleep} from '../util/sleep.js'
import {defineStep} from './types.js'

const inputs = z.strictObject({
  duration: duration('how long to wait'),
  reason: z.string().optional(),
})

export default defineStep({
  kind: 'wait',
  description: 'Wait for a duration (a TTL, a bake time); resumes count the time already passed',
  inputs,
  mutates: () => false,
  title: (i) => `Wait ${i.duration}${i.reason ? `: ${i.reason}` : ''}`,

  async plan(_ctx, i) {
    const ms = parseDuration(i.duration)!
    return {
      summary: `wait ${formatDuration(ms)}${i.reason ? ` (${i.reason})` : ''}`,
      changes: [{action: 'wait', target: formatDuration(ms), detail: i.reason}],
      estimateMs: ms,
      worstCaseMs: ms,
    }
  },

  async run(ctx, i) {
    const total = parseDuration(i.duration)!
    const since = ctx.previous.startedAt ? Date.parse(ctx.previous.startedAt) : Date.now()
    const until = since + total
    while (Date.now() < until) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      ctx.log(`${formatDuration(until - Date.now())} left of ${formatDuration(total)}${i.reason ? ` (${i.reason})` : ''}`)
      // A line a second for short waits, every 10 s for long ones (a plain log stays readable).
      const step = Math.min(until - Date.now(), total > 15_000 ? 10_000 : 1000)
      // sleep() never waits a negative time: the clock moves between the loop's check and here.
      await sleep(step, ctx.signal)
    }
    return {summary: `waited ${formatDuration(total)}`, outputs: {waitedMs: Date.now() - since}}
  },
})
