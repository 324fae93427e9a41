/**
 * Help is served from oclif.manifest.json without starting oclif (src/help/manifest-help.ts, from
 * bin/run.js). It must say exactly what oclif says: for the root, every topic and every command,
 * asked every way (--help, -h, help …, a bare topic), at the default width and a wider one. At the
 * default width, into a pipe, the text comes from the build's dist/help.json.gz; at another width it
 * is rendered.
 */
import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import {describe, expect, test} from 'vitest'
import {ROOT, cli} from '../helpers/cli.js'

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {id: string; hidden?: boolean}>}
const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const words = (id: string) => id.split(':')
const commands = Object.values(manifest.commands)
  .filter((c) => !c.hidden)
  .map((c) => c.id)
// Topics that are not also commands (`autocomplete script` is one: typed bare, it runs).
const topics = [...new Set([...Object.keys(pjson.oclif.topics), ...commands.filter((id) => id.includes(':')).map((id) => words(id).slice(0, -1).join(':'))])].filter(
  (t) => !manifest.commands[t],
)

const asked: string[][] = [
  [],
  ['--help'],
  ['-h'],
  ['help'],
  ['help', '--help'],
  ...commands.map((id) => [...words(id), '--help']),
  // The other ways, for a few (each answer is the same code path as --help with another argv).
  ...commands.slice(0, 4).map((id) => ['help', ...words(id)]),
  ...commands.slice(4, 7).map((id) => [...words(id), '-h', '--json']),
  ...topics.flatMap((t) => [words(t), [...words(t), '--help'], ['help', ...words(t)]]),
]

/** Both ways, several at a time (each is a process of its own). */
async function both(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const [fast, oclif] = await Promise.all([cli(argv, {env}), cli(argv, {env: {...env, CLIPPER_OPS_HELP_FROM_OCLIF: '1'}})])
  return {fast, oclif}
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn))
}

describe('help from the manifest', () => {
  test(`says what oclif says, for the root, ${topics.length} topics and ${commands.length} commands, without starting oclif`, {timeout: 180_000}, async () => {
    await inBatches(asked, 2, async (argv) => {
      const {fast, oclif} = await both(argv, {DEBUG: 'oclif:*'})
      const what = `clipper-ops ${argv.join(' ')}`
      expect(oclif.code, `${what} (oclif): ${oclif.stderr}`).toBe(0)
      expect(fast.stdout, what).toBe(oclif.stdout)
      expect(fast.code, what).toBe(0)
      // DEBUG=oclif:* would log oclif's Config loading: the fast path has none.
      expect(fast.stderr, `${what} started oclif`).toBe('')
    })
  })

  test('wraps at the width oclif would (OCLIF_COLUMNS)', async () => {
    for (const argv of [['--help'], ['rollout', '--help'], ['sandbox']]) {
      const {fast, oclif} = await both(argv, {OCLIF_COLUMNS: '132'})
      expect(fast.stdout).toBe(oclif.stdout)
    }
  })

  test('prints the prerendered text only where it is the one that would be rendered, from a help.json.gz of this manifest', () => {
    // A copy of the package whose help.json.gz says something else for every text, so that which
    // path answered shows.
    const root = mkdtempSync(join(tmpdir(), 'clipper-ops-help-'))
    try {
      for (const f of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) cpSync(join(ROOT, f), join(root, f), {recursive: true})
      const cache = JSON.parse(gunzipSync(readFileSync(join(root, 'dist', 'help.json.gz'))).toString('utf8')) as {texts: string[]; byArgv: Record<string, number>}
      expect(Object.keys(cache.byArgv)).toEqual(expect.arrayContaining([JSON.stringify(['--help']), JSON.stringify(['rollout', '--help']), JSON.stringify(['runs'])]))
      cache.texts = cache.texts.map((t, i) => (t.includes('\0') ? `prerendered ${i} for \0user-agent\0\n` : `prerendered ${i}\n`))
      writeFileSync(join(root, 'dist', 'help.json.gz'), gzipSync(JSON.stringify(cache)))
      const help = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
        const r = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), ...argv], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1', ...env}})
        expect(r.status, r.stderr).toBe(0)
        return r.stdout
      }
      expect(help(['rollout', '--help'])).toBe(`prerendered ${cache.byArgv[JSON.stringify(['rollout', '--help'])]}\n`)
      // The root's VERSION line is the user's platform and Node, not the build's.
      expect(help(['--help'])).toBe(
        `prerendered ${cache.byArgv[JSON.stringify(['--help'])]} for clipper-ops/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`,
      )
      // Another width, colour, or a help.json.gz built from another manifest: rendered, as oclif would.
      const rendered = (env: NodeJS.ProcessEnv = {}) => {
        const text = help(['rollout', '--help'], env)
        expect(text).not.toMatch(/^prerendered/)
        expect(text).toBe(help(['rollout', '--help'], {...env, CLIPPER_OPS_HELP_FROM_OCLIF: '1'}))
        return text
      }
      rendered({OCLIF_COLUMNS: '100'})
      expect(rendered({NO_COLOR: '', FORCE_COLOR: '1'})).toContain('\u001B[')
      writeFileSync(join(root, 'oclif.manifest.json'), `${readFileSync(join(root, 'oclif.manifest.json'), 'utf8')}\n`)
      rendered()
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })

  test('leaves to oclif what is not help, or help it cannot render: unknown commands, --version', async () => {
    for (const argv of [['bogus', '--help'], ['help', 'bogus'], ['--version'], ['runs', 'lst']]) {
      const {fast, oclif} = await both(argv)
      expect([fast.code, fast.stdout, fast.stderr], argv.join(' ')).toEqual([oclif.code, oclif.stdout, oclif.stderr])
    }
  })
})
