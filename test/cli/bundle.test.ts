/**
 * What the bundle makes a command load, from esbuild's metafile (dist/meta.json, written by the
 * build): the module boundaries that keep a command's start small, which a stray static import
 * would undo without failing anything else. Sizes and times are the bench's (npm run bench).
 */
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, test} from 'vitest'
import {BIN, ROOT} from '../helpers/cli.js'

interface Meta {
  inputs: Record<string, unknown>
  outputs: Record<string, {entryPoint?: string; inputs: Record<string, unknown>; imports: {path: string; kind: string}[]}>
}
let meta: Meta

/** The source files in the chunks `entry` loads: before it runs (static imports), or ever (with `await import()`). */
function reached(entry: string, kinds: 'static' | 'all'): string[] {
  const seen = new Set<string>()
  const walk = (file: string): void => {
    if (seen.has(file) || !meta.outputs[file]) return
    seen.add(file)
    for (const i of meta.outputs[file].imports) if (kinds === 'all' || i.kind === 'import-statement') walk(i.path)
  }
  walk(entry)
  return [...seen].flatMap((f) => Object.keys(meta.outputs[f]!.inputs))
}

beforeAll(() => {
  meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as Meta
})

describe('the bundle', () => {
  test('dns status starts with the config loader but without the YAML parser, zod or the schema: those wait for a config the cache has not seen', () => {
    const start = reached('dist/commands/dns/status.js', 'static')
    expect(start).toContain('src/lib/config/load.ts')
    expect(start.filter((f) => /node_modules\/(yaml|zod)\/|src\/lib\/config\/(schema|validate)\.ts/.test(f))).toEqual([])
    const ever = reached('dist/commands/dns/status.js', 'all')
    expect(ever).toContain('src/lib/config/validate.ts')
    expect(ever.some((f) => f.includes('node_modules/yaml/'))).toBe(true)
    // The check can fail: a command that reads a runbook has the parser from the start.
    expect(reached('dist/commands/rollout.js', 'static').some((f) => f.includes('node_modules/yaml/'))).toBe(true)
  })

  test("Cognito's client, which no command reaches, is not bundled (through @aws-sdk/credential-providers' index it was: three chunks)", () => {
    expect(Object.keys(meta.inputs).some((f) => f.includes('/credential-provider-ini/'))).toBe(true)
    expect(Object.keys(meta.inputs).filter((f) => /cognito/i.test(f))).toEqual([])
  })

  test("a command's start calls no localeCompare (ICU's collator) and loads no child_process (oclif's WSL check): the OCLIF_PATCHES of scripts/bundle.mjs", () => {
    // Counted in the process itself, by a module that Node runs before the CLI.
    const probe = `data:text/javascript,${encodeURIComponent(
      "let n = 0; const lc = String.prototype.localeCompare; String.prototype.localeCompare = function (...a) { n++; return lc.apply(this, a) }; process.on('exit', () => process.stderr.write('\\nPROBE ' + JSON.stringify({localeCompare: n, childProcess: process.moduleLoadList.includes('NativeModule child_process')}) + '\\n'))",
    )}`
    const probed = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', probe, ...args], {encoding: 'utf8'})
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(/^PROBE (.*)$/m.exec(r.stderr)![1]!)
    }
    // The probe sees both when they happen.
    expect(probed(['-e', "'a'.localeCompare('b'); require('node:child_process')"])).toEqual({localeCompare: 1, childProcess: true})
    // `--version` starts oclif (its Config, its plugin's commands) and nothing else.
    expect(probed([BIN, '--version'])).toEqual({localeCompare: 0, childProcess: false})
  })

  test("oclif's plugin sorts the commands by code unit (scripts/bundle.mjs), which puts every id of the manifest where localeCompare did", () => {
    const ids = Object.keys(JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands as object)
    const byCodeUnit = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    expect(byCodeUnit).toEqual([...ids].sort((a, b) => a.localeCompare(b)))
    // Ids where the two could differ are there: a command beside the commands of its own topic.
    expect(ids).toEqual(expect.arrayContaining(['autocomplete', 'autocomplete:create', 'dns:status', 'dr:drill']))
  })
})
