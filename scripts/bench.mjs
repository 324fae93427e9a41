#!/usr/bin/env node
// npm run bench: cold-start figures for the CLI (median of several runs), next to bare Node.
// Run after `npm run build`. Figures come from here, never from timed assertions in tests.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 9)
const cwd = mkdtempSync(join(tmpdir(), 'clipper-ops-bench-'))
const env = {...process.env, NO_COLOR: '1', CLIPPER_OPS_STATE_DIR: join(cwd, 'state')}

function timeIt(label, args) {
  const samples = []
  spawnSync(process.execPath, args, {cwd, env}) // warm the disk cache and the compile cache
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, args, {cwd, env, encoding: 'utf8'})
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (r.status !== 0) throw new Error(`${label} exited ${r.status}: ${r.stderr}`)
    samples.push(ms)
  }
  samples.sort((a, b) => a - b)
  return {label, median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples.at(-1)}
}

const rows = [
  timeIt('node -e 0 (bare Node)', ['-e', '0']),
  timeIt('clipper-ops --help', [BIN, '--help']),
  timeIt('clipper-ops runs list', [BIN, 'runs', 'list']),
  timeIt('clipper-ops run --help', [BIN, 'run', '--help']),
]
rmSync(cwd, {recursive: true, force: true})

const base = rows[0].median
console.log(`Cold start, ${RUNS} runs each, Node ${process.versions.node} (${process.execPath})`)
console.log('')
console.log(`${'command'.padEnd(28)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)} ${'over bare node'.padStart(15)}`)
for (const r of rows) {
  const over = r === rows[0] ? '' : `+${(r.median - base).toFixed(0)} ms`
  console.log(`${r.label.padEnd(28)} ${`${r.median.toFixed(0)} ms`.padStart(9)} ${`${r.min.toFixed(0)} ms`.padStart(9)} ${`${r.max.toFixed(0)} ms`.padStart(9)} ${over.padStart(15)}`)
}
