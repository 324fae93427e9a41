#!/usr/bin/env node
// npm run bench: cold-start figures for the CLI (median of several runs), next to bare Node.
// Run after `npm run build`. Figures come from here, never from timed assertions in tests.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

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
  console.log(
    `${r.label.padEnd(28)} ${`${r.median.toFixed(0)} ms`.padStart(9)} ${`${r.min.toFixed(0)} ms`.padStart(9)} ${`${r.max.toFixed(0)} ms`.padStart(9)} ${over.padStart(15)}`,
  )
}

// --- the sandbox: `sandbox up` to ready, median of several starts -----------------------------
const SANDBOX_RUNS = Number(process.env.BENCH_SANDBOX_RUNS ?? 5)
const sbDir = mkdtempSync(join(tmpdir(), 'clipper-ops-bench-sandbox-'))
const sbEnv = {...env, CLIPPER_OPS_STATE_DIR: join(sbDir, 'state')}
const cliRun = (args) => {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [BIN, ...args], {cwd: sbDir, env: sbEnv, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`clipper-ops ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return {ms: Number(process.hrtime.bigint() - t) / 1e6, stdout: r.stdout}
}
const ups = []
for (let i = 0; i < SANDBOX_RUNS; i++) {
  const up = cliRun(['sandbox', 'up', '--json'])
  ups.push({wall: up.ms, ready: JSON.parse(up.stdout).readyMs})
  cliRun(['sandbox', 'down'])
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log('')
console.log(
  `sandbox up to ready, ${SANDBOX_RUNS} starts: median ${med(ups.map((u) => u.wall)).toFixed(0)} ms for the command (${med(ups.map((u) => u.ready)).toFixed(0)} ms inside the daemon); min ${Math.min(...ups.map((u) => u.wall)).toFixed(0)}, max ${Math.max(...ups.map((u) => u.wall)).toFixed(0)}`,
)

// --- a rollback in the sandbox: where its time goes -------------------------------------------
cliRun(['sandbox', 'up'])
try {
  cliRun(['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s'])
  const t0 = Date.now()
  const r = cliRun(['rollback', '--env', 'sandbox', '--output', 'json'])
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  const at = (pred) => Date.parse(events.find(pred)?.at)
  const start = at((e) => e.type === 'run.started')
  const end = at((e) => e.type === 'run.finished')
  // Events carry no step outputs: the run's state (beside its report) has them.
  const finished = events.find((e) => e.type === 'run.finished')
  const state = JSON.parse(readFileSync(join(dirname(finished.reports.markdown), 'state.json'), 'utf8'))
  const shift = state.steps.find((st) => st.id === 'weights')
  const accepted = Date.parse(shift.outputs.submittedAt) + shift.outputs.acceptedMs
  const ttlWait = events.find((e) => e.type === 'step.succeeded' && e.stepId === 'ttl').durationMs
  const verify = events.find((e) => e.type === 'step.succeeded' && e.stepId === 'verify').durationMs
  const insync = shift.outputs.insyncMs
  const total = end - start
  console.log('')
  console.log(`rollback in the sandbox (TTL 5 s, Route 53 changes PENDING for 2 s):`)
  console.log(`  command start → run start (Node, CLI, config, AWS identity, lock)  ${start - t0} ms`)
  console.log(`  run start → change batch accepted                                 ${accepted - start} ms`)
  console.log(`  change accepted → INSYNC (Route 53's own time)                     ${insync} ms`)
  console.log(`  TTL wait (resolvers keep the old answer)                           ${ttlWait} ms`)
  console.log(`  verify: users served by legacy (observation window)                ${verify} ms`)
  console.log(`  whole rollback (run start → finished)                              ${total} ms`)
  console.log(`  the tool's own share (whole − INSYNC − TTL − verify window)        ${total - insync - ttlWait - verify} ms`)

  // --- a DR drill in the sandbox (a real PostgreSQL PITR restore): its phases ------------------
  const DRILLS = Number(process.env.BENCH_DRILLS ?? 3)
  const drills = []
  for (let i = 0; i < DRILLS; i++) {
    const dir = join(sbDir, `drill-${i}`)
    const d = cliRun(['dr', 'drill', '--env', 'sandbox', '--yes', '--report-dir', dir])
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    drills.push({wall: d.ms, rto: report.rto.ms, rpo: report.rpo.ms, phases: Object.fromEntries(report.phases.map((p) => [p.name, p.ms]))})
  }
  console.log('')
  console.log(`dr drill in the sandbox, ${DRILLS} drills (median; min–max):`)
  const line = (label, xs) => console.log(`  ${label.padEnd(66)} ${med(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`)
  line(
    'the command, start to exit',
    drills.map((d) => d.wall),
  )
  for (const name of Object.keys(drills[0].phases))
    line(
      `phase: ${name}`,
      drills.map((d) => d.phases[name]),
    )
  line(
    'RTO (drill start → validation passed)',
    drills.map((d) => d.rto),
  )
  line(
    'RPO (drill start − newest row restored; archive_timeout 5 s)',
    drills.map((d) => d.rpo),
  )
} finally {
  cliRun(['sandbox', 'down'])
  rmSync(sbDir, {recursive: true, force: true})
}
