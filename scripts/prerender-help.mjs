#!/usr/bin/env node
// Renders, at build time, the help that bin/run.js would print to a pipe (80 columns, no colour)
// for the root, every command and every topic, asked the usual ways (`--help`, `-h`, `help …`, a
// bare topic), into dist/help.json.gz: src/help/manifest-help.ts prints it from there when a run
// would render the same text. Each text is made by manifestHelp itself, in a child process whose
// stdout is a pipe and whose environment asks for no colour, so it is what that code prints.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {gzipSync} from 'node:zlib'

const ROOT = resolve(import.meta.dirname, '..')
const OUT = join(ROOT, 'dist', 'help.json.gz')

if (process.env.PRERENDER_HELP_CHILD !== '1') {
  rmSync(OUT, {force: true}) // manifestHelp would answer from it
  const noTheme = mkdtempSync(join(tmpdir(), 'clipper-ops-prerender-'))
  const env = {...process.env, PRERENDER_HELP_CHILD: '1', NO_COLOR: '1', XDG_CONFIG_HOME: noTheme}
  for (const k of ['FORCE_COLOR', 'OCLIF_COLUMNS', 'CLIPPER_OPS_CONFIG_DIR']) delete env[k]
  const r = spawnSync(process.execPath, [import.meta.filename], {env, stdio: ['ignore', 'pipe', 'inherit']})
  rmSync(noTheme, {recursive: true, force: true})
  process.exit(r.status ?? 1)
}

const {manifestHelp, manifestDigest, userAgent, USER_AGENT} = await import(join(ROOT, 'dist', 'manifest-help.js'))
const manifestText = readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')
const manifest = JSON.parse(manifestText)
const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const words = (id) => id.split(':')
const ids = Object.keys(manifest.commands)
const topics = new Set(Object.keys(pjson.oclif.topics ?? {}))
for (const id of ids) for (let w = words(id); w.length > 1;) topics.add((w = w.slice(0, -1)).join(':'))

const asked = [
  [],
  ['--help'],
  ['-h'],
  ['help'],
  ...[...ids, ...topics].flatMap((id) => [
    [...words(id), '--help'],
    [...words(id), '-h'],
    ['help', ...words(id)],
  ]),
  ...[...topics].filter((t) => !manifest.commands[t]).map(words),
]

const ua = userAgent(pjson)
const texts = []
const byArgv = {}
const write = process.stdout.write
for (const argv of asked) {
  let out = ''
  process.stdout.write = (chunk) => ((out += chunk), true)
  let answered
  try {
    answered = await manifestHelp(`${ROOT}/`, argv)
  } finally {
    process.stdout.write = write
  }
  if (!answered) continue // left to oclif at run time too
  // The root's VERSION line names the platform and Node of this build: a place for the user's.
  if (ua && out.includes(ua)) out = out.replaceAll(ua, USER_AGENT)
  else if (out.includes('\nVERSION\n')) continue
  if (!texts.includes(out)) texts.push(out)
  byArgv[JSON.stringify(argv)] = texts.indexOf(out)
}
writeFileSync(OUT, gzipSync(JSON.stringify({manifest: manifestDigest(manifestText), texts, byArgv}), {level: 9}))
