#!/usr/bin/env node
// What the bundle holds, from esbuild's metafile (dist/meta.json, written by the build): the
// packages with the most bytes in dist/, and what a few commands load before they run (their
// static imports; what they load later with `await import()` is not counted).
import {readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8'))
const kb = (b) => `${(b / 1024).toFixed(0).padStart(6)} KB`

const byPackage = new Map()
for (const output of Object.values(meta.outputs)) {
  for (const [input, {bytesInOutput}] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
    const name = m ? m[1] : input.includes('packages/sandbox/') ? '(ours: the sandbox)' : '(ours: the CLI)'
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput)
  }
}
const total = [...byPackage.values()].reduce((a, b) => a + b, 0)
console.log(`dist/: ${kb(total)} of JavaScript in ${Object.keys(meta.outputs).length} modules (one file: dist/modules.pack). The biggest parts:`)
for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[2] ?? 20))) console.log(`${kb(bytes)}  ${name}`)

const loaded = (file, seen = new Set()) => {
  if (seen.has(file)) return seen
  seen.add(file)
  for (const i of meta.outputs[file]?.imports ?? []) if (i.path.startsWith('dist/') && i.kind === 'import-statement') loaded(i.path, seen)
  return seen
}
console.log('')
console.log('Loaded at start (static imports only):')
for (const entry of [
  'dist/manifest-help.js',
  'dist/oclif.js',
  'dist/commands/runs/list.js',
  'dist/commands/dns/status.js',
  'dist/commands/rollout.js',
  'dist/processes/daemon.js',
]) {
  const files = [...loaded(entry)]
  console.log(`${kb(files.reduce((a, f) => a + meta.outputs[f].bytes, 0))}  ${entry} (${files.length} modules)`)
}
