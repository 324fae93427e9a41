#!/usr/bin/env node
// npm run chaos [-- --seed N] [--scenarios N] [--no-sweep] [--only 3,17] [--shard 0/2]: the chaos campaign
// against a sandbox of its own (test/chaos/campaign.ts). By default it walks every journal entry
// of the cutover and the rollback as a kill point, then a seeded mix up to --scenarios (300).
// It prints its seed first, so any failure can be replayed with --seed and --only. --shard i/n
// runs every n-th scenario from the i-th: n shards, each with a sandbox of its own, at once.
import {spawnSync} from 'node:child_process'
import {parseArgs} from 'node:util'

const {values} = parseArgs({
  options: {
    seed: {type: 'string', default: String(Math.floor(Math.random() * 2 ** 31))},
    scenarios: {type: 'string', default: '300'},
    'no-sweep': {type: 'boolean', default: false},
    only: {type: 'string'},
    shard: {type: 'string'},
    'no-build': {type: 'boolean', default: false},
  },
})
for (const [flag, v] of [
  ['--seed', values.seed],
  ['--scenarios', values.scenarios],
]) {
  if (!/^\d+$/.test(v)) {
    console.error(`${flag} ${v}: expected a whole number`)
    process.exit(2)
  }
}
if (values.shard && !(/^\d+\/\d+$/.test(values.shard) && Number(values.shard.split('/')[0]) < Number(values.shard.split('/')[1]))) {
  console.error(`--shard ${values.shard}: expected i/n with i < n, e.g. 0/2`)
  process.exit(2)
}
console.log(`chaos: seed ${values.seed}, ${values.scenarios} scenarios${values['no-sweep'] ? '' : ', with the kill sweep'}`)
if (!values['no-build'] && spawnSync('npm', ['run', 'build', '--silent'], {stdio: 'inherit'}).status !== 0) process.exit(1)
const env = {
  ...process.env,
  CHAOS_SEED: values.seed,
  CHAOS_SCENARIOS: values.scenarios,
  CHAOS_FULL: values['no-sweep'] ? '0' : '1',
  ...(values.only ? {CHAOS_ONLY: values.only} : {}),
  ...(values.shard ? {CHAOS_SHARD: values.shard} : {}),
}
const r = spawnSync('npx', ['vitest', 'run', '--project', 'e2e', 'test/chaos/chaos.test.ts'], {stdio: 'inherit', env})
process.exit(r.status ?? 1)
