/**
 * A fixed-seed slice of the chaos campaign (about a minute): a seeded mix of kills, faults,
 * damaged state and malformed input, each checked against the invariants. The full campaign
 * (npm run chaos) adds the kill sweep over every journal entry and the regressions.
 */
import {describe, expect, test} from 'vitest'
import {useSandbox} from '../helpers/sandbox.js'
import {Harness, runCampaign} from './campaign.js'

const sandbox = useSandbox({ttl: 1, changeDelayMs: 200})
const SEED = Number(process.env.CHAOS_SEED ?? 20261202)
const SCENARIOS = Number(process.env.CHAOS_SCENARIOS ?? 7)
const FULL = process.env.CHAOS_FULL === '1'
const ONLY = process.env.CHAOS_ONLY ? process.env.CHAOS_ONLY.split(',').map(Number) : undefined
// A scenario takes up to ~12 s here: `npm run chaos -- --no-sweep --scenarios 60` needs more than the slice's five minutes.
const SHARD = process.env.CHAOS_SHARD ? {i: Number(process.env.CHAOS_SHARD.split('/')[0]), n: Number(process.env.CHAOS_SHARD.split('/')[1])} : undefined

describe('chaos campaign', () => {
  test(
    `seed ${SEED}, ${SCENARIOS} scenarios${FULL ? ' and the kill sweep' : ''}: no invariant violated`,
    {timeout: FULL ? 4 * 3600_000 : Math.max(300_000, SCENARIOS * 30_000)},
    async () => {
      const h = new Harness(sandbox())
      const {results, table} = await runCampaign(h, {seed: SEED, scenarios: SCENARIOS, sweep: FULL, only: ONLY, shard: SHARD, log: (l) => process.stderr.write(`${l}\n`)})
      process.stderr.write(`\n${table}\nReplay: npm run chaos -- --seed ${SEED} --scenarios ${SCENARIOS}${FULL ? '' : ' --no-sweep'} --only N\n`)
      const violations = results.flatMap((r) => r.violations.map((v) => `#${r.n} ${r.label}: ${v}`))
      expect(violations).toEqual([])
    },
  )
})
