#!/usr/bin/env node
// npm run bench: the project's performance record. Each figure is measured beside its yardstick
// in the same run (median, min and max of several), written to bench/results.json, and compared
// with the previous results.json when there is one. Run after `npm run build`. Figures come from
// here, never from timed assertions in tests.
//
//   cold start        --help, runs list, dns status (sandbox)   beside bare `node -e 0`
//   dns status        clipper-ops dns status                     beside `aws route53 list-resource-record-sets`
//   rollback          the tool's own share (total − INSYNC − TTL − the verify window)
//   sandbox up        to ready
//   rollout           peak RSS (GNU time: the largest process of the tree)
//   install           the packed tarball, fresh npm cache        beside aws-cdk, the same way: its
//                     packed tarball (`npm pack aws-cdk`, fetched before the timing); both again
//                     from a local registry serving the two tarballs (what `npx` does: npm unpacks
//                     a tarball given by path three times, a registry package once); ours from
//                     that registry beside aws-cdk from registry.npmjs.org; npm's own floor: a
//                     one-file package; and the same bytes as ours in one file, which shows what
//                     npm's cost per file adds
//
// The config cache (src/lib/config/load.ts) lives in the bench's own XDG_CACHE_HOME; dns status
// is also timed with it off (CLIPPER_OPS_NO_CACHE=1), as a first run with a config would be.
//
// BENCH_RUNS (9), BENCH_SANDBOX_RUNS (3), BENCH_ROLLS (3), BENCH_INSTALL_RUNS (3) and
// BENCH_DRILLS (1) set how many of each; BENCH_SKIP=install,aws,drill skips parts.
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {Worker} from 'node:worker_threads'
import {dirname, join, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'run.js')
const NODE = process.execPath
const n = (name, dflt) => Number(process.env[name] ?? dflt)
const RUNS = n('BENCH_RUNS', 9)
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean))
const work = mkdtempSync(join(tmpdir(), 'clipper-ops-bench-'))
const stateDir = join(work, 'state')
const env = {...process.env, NO_COLOR: '1', CLIPPER_OPS_STATE_DIR: stateDir, XDG_CACHE_HOME: join(work, 'cache')}
delete env.NODE_ENV // as a user runs it (under "test" oclif looks for TypeScript sources)

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return {median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1), n: s.length}
}
function timed(cmd, args, opts = {}) {
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {cwd: work, env, encoding: 'utf8', maxBuffer: 64 << 20, ...opts})
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return {ms, stdout: r.stdout, stderr: r.stderr}
}
/** One warm-up (disk cache, Node's compile cache), then `runs` timed runs. */
function sample(cmd, args, runs = RUNS, opts = {}) {
  timed(cmd, args, opts)
  return stats(Array.from({length: runs}, () => timed(cmd, args, opts).ms))
}
const cli = (args, opts) => timed(NODE, [BIN, ...args], opts)

/** An npm registry of packed tarballs (the packages have no dependencies): GET /<name> answers
 * the packument, GET /-/<file> the tarball. Posts its URL when listening. */
const REGISTRY = `
const {parentPort, workerData} = require('node:worker_threads')
const {createHash} = require('node:crypto')
const {readFileSync} = require('node:fs')
const {basename} = require('node:path')
const {execFileSync} = require('node:child_process')
const packages = new Map()
const files = new Map()
for (const file of workerData) {
  const pkg = JSON.parse(execFileSync('tar', ['xzf', file, 'package/package.json', '-O'], {encoding: 'utf8'}))
  const bytes = readFileSync(file)
  const integrity = 'sha512-' + createHash('sha512').update(bytes).digest('base64')
  packages.set('/' + pkg.name, {pkg, file: basename(file), integrity, shasum: createHash('sha1').update(bytes).digest('hex')})
  files.set('/-/' + basename(file), bytes)
}
const server = require('node:http').createServer((req, res) => {
  const p = packages.get(decodeURIComponent(req.url))
  if (p) {
    const dist = {tarball: 'http://' + req.headers.host + '/-/' + p.file, integrity: p.integrity, shasum: p.shasum}
    res.setHeader('content-type', 'application/json')
    return res.end(JSON.stringify({name: p.pkg.name, 'dist-tags': {latest: p.pkg.version}, versions: {[p.pkg.version]: {...p.pkg, dist}}}))
  }
  const bytes = files.get(req.url)
  if (bytes) return res.end(bytes)
  res.statusCode = 404
  res.end('{}')
})
server.listen(0, '127.0.0.1', () => parentPort.postMessage('http://127.0.0.1:' + server.address().port + '/'))
`

const figures = {}
const rows = [] // [label, stats, unit, yardstick label, yardstick stats]
const record = (key, label, s, unit, yard) => {
  figures[key] = {label, unit, ...s, ...(yard ? {yardstick: yard.label, yardstickMedian: yard.stats.median, ratio: s.median / yard.stats.median} : {})}
  rows.push([label, s, unit, yard])
}

try {
  // --- cold starts, beside bare Node on the same binary ------------------------------------------
  const bare = sample(NODE, ['-e', '0'])
  const bareYard = {label: 'node -e 0', stats: bare}
  record('bareNode', 'node -e 0 (bare Node)', bare, 'ms')
  record('help', 'clipper-ops --help', sample(NODE, [BIN, '--help']), 'ms', bareYard)
  record('runsList', 'clipper-ops runs list', sample(NODE, [BIN, 'runs', 'list']), 'ms', bareYard)

  // --- the sandbox: up to ready (several starts), then one kept for the rest -----------------------
  const ups = []
  for (let i = 0; i < n('BENCH_SANDBOX_RUNS', 3); i++) {
    const up = cli(['sandbox', 'up', '--json', '--state-dir', stateDir])
    ups.push({wall: up.ms, ready: JSON.parse(up.stdout).readyMs})
    cli(['sandbox', 'down', '--state-dir', stateDir])
  }
  record('sandboxUp', 'sandbox up, to ready', stats(ups.map((u) => u.wall)), 'ms', {label: 'inside the daemon', stats: stats(ups.map((u) => u.ready))})

  cli(['sandbox', 'up', '--state-dir', stateDir])
  try {
    const dns = sample(NODE, [BIN, 'dns', 'status', '--env', 'sandbox'])
    record('dnsStatus', 'clipper-ops dns status --env sandbox', dns, 'ms', bareYard)
    if (SKIP.has('aws') || !existsSync('/usr/bin/aws')) console.log('(no /usr/bin/aws: dns status is not compared with the AWS CLI; apt-get install awscli)')
    else {
      // The AWS CLI pointed at the same sandbox endpoint, as `sandbox status --env-vars` says.
      const awsEnv = {...env}
      for (const m of cli(['sandbox', 'status', '--env-vars', '--state-dir', stateDir]).stdout.matchAll(/^export (\w+)=("(?:[^"\\]|\\.)*")$/gm)) awsEnv[m[1]] = JSON.parse(m[2])
      const status = JSON.parse(cli(['sandbox', 'status', '--json', '--state-dir', stateDir]).stdout)
      // --endpoint-url: Debian's AWS CLI (2.9) predates AWS_ENDPOINT_URL.
      const awsArgs = ['route53', 'list-resource-record-sets', '--hosted-zone-id', status.hostedZoneId, '--endpoint-url', status.awsEndpoint]
      const aws = sample('/usr/bin/aws', awsArgs, RUNS, {env: awsEnv})
      record('dnsStatusVsAws', 'clipper-ops dns status --env sandbox', dns, 'ms', {label: 'aws route53 list-resource-record-sets', stats: aws})
      const uncached = sample(NODE, [BIN, 'dns', 'status', '--env', 'sandbox'], RUNS, {env: {...env, CLIPPER_OPS_NO_CACHE: '1'}})
      record('dnsStatusNoCacheVsAws', 'dns status, config cache off', uncached, 'ms', {label: 'aws route53 list-resource-record-sets', stats: aws})
    }

    // --- rollouts (peak RSS) and rollbacks (the tool's own share) ----------------------------------
    const rss = []
    const shares = []
    const parts = []
    const haveTime = existsSync('/usr/bin/time')
    for (let i = 0; i < n('BENCH_ROLLS', 3); i++) {
      const rollout = ['rollout', '--env', 'sandbox', '--steps', '10,50,100', '--bake', '1s']
      if (haveTime) {
        const r = timed('/usr/bin/time', ['-v', NODE, BIN, ...rollout])
        rss.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)[1]) / 1024)
      } else cli(rollout)
      const r = cli(['rollback', '--env', 'sandbox', '--output', 'json'])
      const events = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
      const at = (pred) => Date.parse(events.find(pred)?.at)
      const start = at((e) => e.type === 'run.started')
      const finished = events.find((e) => e.type === 'run.finished')
      // Events carry no step outputs: the run's state (beside its report) has them.
      const state = JSON.parse(readFileSync(join(dirname(finished.reports.markdown), 'state.json'), 'utf8'))
      const insync = state.steps.find((st) => st.id === 'weights').outputs.insyncMs
      const stepMs = (id) => events.find((e) => e.type === 'step.succeeded' && e.stepId === id).durationMs
      const total = Date.parse(finished.at) - start
      shares.push(total - insync - stepMs('ttl') - stepMs('verify'))
      parts.push({total, insync, ttl: stepMs('ttl'), verify: stepMs('verify')})
    }
    if (rss.length) record('rolloutPeakRss', 'peak RSS of a rollout (10→50→100%)', stats(rss), 'MB')
    else console.log('(no /usr/bin/time: peak RSS not measured; apt-get install time)')
    record('rollbackOwnShare', "rollback: the tool's own share", stats(shares), 'ms', {label: 'whole rollback', stats: stats(parts.map((p) => p.total))})
    figures.rollbackParts = {insyncMs: stats(parts.map((p) => p.insync)), ttlMs: stats(parts.map((p) => p.ttl)), verifyMs: stats(parts.map((p) => p.verify))}

    // --- a DR drill (a real PostgreSQL PITR restore): its phases ----------------------------------
    const drills = []
    for (let i = 0; i < (SKIP.has('drill') ? 0 : n('BENCH_DRILLS', 1)); i++) {
      const dir = join(work, `drill-${i}`)
      const d = cli(['dr', 'drill', '--env', 'sandbox', '--yes', '--report-dir', dir])
      const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
      drills.push({wall: d.ms, rto: report.rto.ms, rpo: report.rpo.ms})
    }
    if (drills.length) {
      record('drDrill', 'dr drill, start to exit', stats(drills.map((d) => d.wall)), 'ms', {label: 'its RTO', stats: stats(drills.map((d) => d.rto))})
      figures.drRpoMs = stats(drills.map((d) => d.rpo))
    }
  } finally {
    cli(['sandbox', 'down', '--state-dir', stateDir])
  }

  // --- install from a fresh npm cache: the packed tarball, beside aws-cdk ---------------------------
  if (!SKIP.has('install')) {
    const tarball = join(work, JSON.parse(timed('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {cwd: ROOT}).stdout)[0].filename)
    const install = (what, i, registry) => {
      const dir = join(work, `install-${what.replace(/\W/g, '')}-${registry ? 'local-registry-' : ''}${i}`)
      mkdirSync(dir)
      writeFileSync(join(dir, 'package.json'), '{"name": "bench", "private": true}\n')
      const args = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--cache', join(dir, '.npm-cache'), ...(registry ? ['--registry', registry] : []), what]
      const r = timed('npm', args, {cwd: dir})
      const kb = Number(execFileSync('du', ['-sk', join(dir, 'node_modules')], {encoding: 'utf8'}).split('\t')[0])
      const packages = Number(
        execFileSync('sh', ['-c', `find ${JSON.stringify(join(dir, 'node_modules'))} -name package.json -not -path '*/node_modules/*/node_modules/*/*' | wc -l`], {
          encoding: 'utf8',
        }),
      )
      return {ms: r.ms, mb: kb / 1024, packages}
    }
    // npm's own floor: a package of one file, installed the same way.
    const tiny = join(work, 'tiny')
    mkdirSync(tiny)
    writeFileSync(join(tiny, 'package.json'), '{"name": "tiny", "version": "1.0.0"}\n')
    writeFileSync(join(tiny, 'index.js'), '\n')
    const tinyTarball = join(work, JSON.parse(timed('npm', ['pack', '--json', '--pack-destination', work], {cwd: tiny}).stdout)[0].filename)
    // Our package's bytes as one file: npm's cost per file is the rest of ours.
    const oneFile = join(work, 'one-file')
    mkdirSync(oneFile)
    execFileSync('tar', ['xzf', tarball, '-C', oneFile])
    execFileSync('sh', ['-c', 'find package -type f ! -name package.json -print0 | sort -z | xargs -0 cat > all.bin && rm -rf package'], {cwd: oneFile})
    writeFileSync(join(oneFile, 'package.json'), '{"name": "one-file", "version": "1.0.0"}\n')
    const oneFileTarball = join(work, JSON.parse(timed('npm', ['pack', '--json', '--pack-destination', work], {cwd: oneFile}).stdout)[0].filename)
    // aws-cdk packed, as ours is: the same npm path (a tarball given by path) for both.
    const cdkTarball = join(work, JSON.parse(timed('npm', ['pack', '--json', '--pack-destination', work, 'aws-cdk']).stdout)[0].filename)
    // `npx clipper-ops` takes a package from a registry, which npm unpacks once: both packages
    // served by a registry of our own (a worker thread: the timed npm runs block this one).
    const registry = new Worker(REGISTRY, {eval: true, workerData: [tarball, cdkTarball]})
    const registryUrl = await new Promise((ok, fail) => registry.once('message', ok).once('error', fail))
    const ours = []
    const cdk = []
    const oursServed = []
    const cdkServed = []
    const cdkRegistry = []
    const floor = []
    const sameBytes = []
    for (let i = 0; i < n('BENCH_INSTALL_RUNS', 3); i++) {
      ours.push(install(tarball, i))
      cdk.push(install(cdkTarball, i))
      oursServed.push(install('clipper-ops', i, registryUrl))
      cdkServed.push(install('aws-cdk', i, registryUrl))
      cdkRegistry.push(install('aws-cdk', i))
      floor.push(install(tinyTarball, i))
      sameBytes.push(install(oneFileTarball, i))
    }
    await registry.terminate()
    const cdkYard = {label: "npm install of aws-cdk's packed tarball", stats: stats(cdk.map((x) => x.ms))}
    record('installTime', 'npm install of the packed tarball', stats(ours.map((x) => x.ms)), 'ms', cdkYard)
    const served = stats(oursServed.map((x) => x.ms))
    record('installFromRegistry', 'npm install from a local registry', served, 'ms', {
      label: 'aws-cdk from the same registry',
      stats: stats(cdkServed.map((x) => x.ms)),
    })
    record('installVsNpmjs', 'npm install from a local registry', served, 'ms', {
      label: 'aws-cdk from registry.npmjs.org',
      stats: stats(cdkRegistry.map((x) => x.ms)),
    })
    record('installFloor', "npm install of a one-file tarball (npm's floor)", stats(floor.map((x) => x.ms)), 'ms', cdkYard)
    record('installOneFile', 'npm install of our bytes as one file', stats(sameBytes.map((x) => x.ms)), 'ms', cdkYard)
    record('installSize', 'installed size (node_modules)', stats(ours.map((x) => x.mb)), 'MB', {label: 'aws-cdk', stats: stats(cdk.map((x) => x.mb))})
    figures.installPackages = {
      ours: ours[0].packages,
      awsCdk: cdk[0].packages,
      files: Number(execFileSync('sh', ['-c', `tar tzf ${JSON.stringify(tarball)} | wc -l`], {encoding: 'utf8'})),
    }
  }
} finally {
  rmSync(work, {recursive: true, force: true})
}

// --- print, compare with the previous record, save ------------------------------------------------
const fmt = (v, unit) => (unit === 'MB' ? `${v.toFixed(1)} MB` : `${v.toFixed(0)} ms`)
console.log(`clipper-ops bench, ${new Date().toISOString()}, Node ${process.versions.node}; median (min–max) of n runs`)
console.log('')
for (const [label, s, unit, yard] of rows) {
  const mine = `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)}, n=${s.n})`
  const beside = yard
    ? `  beside ${yard.label}: ${fmt(yard.stats.median, unit)} (${fmt(yard.stats.min, unit)}–${fmt(yard.stats.max, unit)}) = ${(s.median / yard.stats.median).toFixed(2)}×`
    : ''
  console.log(`${label.padEnd(40)} ${mine.padEnd(36)}${beside}`)
}
if (figures.rollbackParts) {
  const p = figures.rollbackParts
  console.log(`${''.padEnd(40)} (rollback waits: INSYNC ${fmt(p.insyncMs.median, 'ms')}, TTL ${fmt(p.ttlMs.median, 'ms')}, verify window ${fmt(p.verifyMs.median, 'ms')})`)
}
if (figures.installPackages)
  console.log(`${''.padEnd(40)} (packages installed: ours ${figures.installPackages.ours} of ${figures.installPackages.files} files, aws-cdk ${figures.installPackages.awsCdk})`)

const file = join(ROOT, 'bench', 'results.json')
if (existsSync(file)) {
  const prev = JSON.parse(readFileSync(file, 'utf8'))
  console.log('')
  console.log(`Compared with ${prev.at} (bench/results.json before this run), medians:`)
  for (const [key, f] of Object.entries(figures)) {
    const was = prev.figures?.[key]
    if (!f.unit || !was?.median) continue
    const change = ((f.median - was.median) / was.median) * 100
    console.log(`  ${f.label.padEnd(40)} ${fmt(was.median, f.unit).padStart(10)} → ${fmt(f.median, f.unit).padStart(10)}  ${change >= 0 ? '+' : ''}${change.toFixed(0)}%`)
  }
}
mkdirSync(dirname(file), {recursive: true})
writeFileSync(file, `${JSON.stringify({at: new Date().toISOString(), node: process.versions.node, figures}, null, 2)}\n`)
console.log('')
console.log(`Written to ${file}.`)
