/**
 * The bundle's modules ship as one file, dist/modules.pack (scripts/pack-dist.mjs), that
 * bin/modules-pack.js serves to Node's module loader: every module esbuild wrote is in it, no
 * module file is left beside it, the modules run from it, and a damaged pack is said in one line.
 */
import {cpSync, readFileSync, readdirSync, truncateSync, writeFileSync} from 'node:fs'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {removeDir, ROOT, tempDir} from '../helpers/cli.js'

const DIST = join(ROOT, 'dist')
const files = (dir: string): string[] => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))

/** A pack as bin/modules-pack.js reads it: the index, and where the modules' bytes start. */
function readPack(file: string): {bytes: Buffer; size: number; modules: Record<string, [number, number]>; base: number} {
  const bytes = readFileSync(file)
  const length = bytes.readUInt32LE(0)
  return {bytes, base: 4 + length, ...JSON.parse(bytes.subarray(4, 4 + length).toString('utf8'))}
}

const copies: string[] = []
afterAll(() => copies.forEach(removeDir))

/**
 * The package as installed (what package.json's `files` ships), in a directory of its own whose
 * path has a space and an ü, which file URLs percent-encode ("/Users/Jo Smith/…").
 */
function installedCopy(): string {
  const top = tempDir('clipper-ops-pack-')
  copies.push(top)
  const dir = join(top, 'Jo Smü')
  for (const f of ['bin', 'dist', 'runbooks', 'package.json', 'oclif.manifest.json']) cpSync(join(ROOT, f), join(dir, f), {recursive: true})
  return dir
}

const run = (dir: string, args: string[]) => spawnSync(process.execPath, [join(dir, 'bin', 'run.js'), ...args], {cwd: dir, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})

describe('dist/modules.pack', () => {
  test('holds every module esbuild wrote, and dist/ no module file but the stubs of the two processes', () => {
    const meta = JSON.parse(readFileSync(join(DIST, 'meta.json'), 'utf8'))
    const written = Object.keys(meta.outputs)
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.replace(/^dist\//, ''))
      .sort()
    const pack = readPack(join(DIST, 'modules.pack'))
    expect(Object.keys(pack.modules).sort()).toEqual(written)
    expect(pack.bytes.length).toBe(pack.base + pack.size)
    // Each range is one module: every module starts with esbuild's banner (scripts/bundle.mjs).
    for (const [name, [start, end]] of Object.entries(pack.modules)) {
      expect(pack.bytes.subarray(pack.base + start, pack.base + end).toString('utf8'), name).toMatch(/^import \{createRequire as __cjsRequire\} from 'node:module';/)
    }
    const left = files(DIST)
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(DIST.length + 1))
      .sort()
    expect(left).toEqual(['daemon.js', 'docker-shim.js'])
  })

  test('is what runs: a command changed in the pack runs changed', () => {
    const dir = installedCopy()
    const file = join(dir, 'dist', 'modules.pack')
    const {bytes, base, modules} = readPack(file)
    // The same number of bytes, so the index stays true: `runs list`'s "No runs in" becomes "No RUNS in".
    const [start, end] = modules['commands/runs/list.js']!
    const text = bytes.subarray(base + start, base + end).toString('latin1')
    expect(text).toContain('No runs in')
    bytes.write(text.replace('No runs in', 'No RUNS in'), base + start, 'latin1')
    writeFileSync(file, bytes)
    const r = run(dir, ['runs', 'list'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('No RUNS in')
    const help = run(dir, ['--help'])
    expect(help.status, help.stderr).toBe(0)
    expect(help.stdout).toContain('USAGE')
  })

  test('damaged (a partial install) is said in one line, naming the file and what to do, with exit 1', () => {
    const dir = installedCopy()
    const file = join(dir, 'dist', 'modules.pack')
    truncateSync(file, readFileSync(file).length - 1000)
    const r = run(dir, ['--version'])
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`clipper-ops: ${file} is damaged`)
    expect(r.stderr).toContain('reinstall clipper-ops')

    writeFileSync(file, Buffer.concat([Buffer.from([8, 0, 0, 0]), Buffer.from('not json')]))
    const garbled = run(dir, ['--version'])
    expect(garbled.status).toBe(1)
    expect(garbled.stderr).toContain('its index does not parse')
  })
})
