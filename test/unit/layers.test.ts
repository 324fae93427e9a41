/**
 * The layer rules of CONTRIBUTING.md, checked: the CLI never imports its sandbox plugin (the
 * plugin knows the CLI's contracts, not the other way round), and the engine renders nothing
 * and owns no process — it emits events to a host.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, expect, test} from 'vitest'
import {ROOT} from '../helpers/cli.js'

function sources(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true, recursive: true})
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
}

/** Every module specifier a file names: static imports and exports, import() and require(). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!)
}

const rel = (f: string) => relative(ROOT, f)

describe('layers', () => {
  test('nothing under src/ imports the sandbox package or a path inside it', () => {
    const offenders = sources(join(ROOT, 'src')).flatMap((f) =>
      specifiers(f)
        .filter((s) => s.startsWith('@clipper-ops/sandbox') || /(^|\/)packages\/sandbox(\/|$)/.test(s) || /(^|\/)sandbox\//.test(s))
        .map((s) => `${rel(f)} imports ${s}`),
    )
    expect(offenders).toEqual([])
  })

  test('the engine never writes to stdout or stderr, never exits the process, never renders', () => {
    const offenders: string[] = []
    for (const f of sources(join(ROOT, 'src/lib/engine'))) {
      const code = readFileSync(f, 'utf8')
      for (const [what, re] of [
        ['writes to process.stdout', /process\.stdout/],
        ['writes to process.stderr', /process\.stderr/],
        ['calls process.exit', /process\.exit\b/],
        ['installs signal handlers', /process\.(on|once|addListener)\(\s*['"]SIG/],
        ['uses console', /\bconsole\./],
      ] as const) {
        if (re.test(code)) offenders.push(`${rel(f)} ${what}`)
      }
      for (const s of specifiers(f)) if (s === 'listr2' || s.startsWith('@inquirer/') || s.includes('/hosts/')) offenders.push(`${rel(f)} imports ${s}`)
    }
    expect(offenders).toEqual([])
  })

  test('the checks above would catch an offender', () => {
    // A test of the test: the patterns match what they are meant to.
    expect(specifiers(join(ROOT, 'src/lib/runbook-command.ts'))).toContain('./hosts/index.js')
    expect(/process\.stdout/.test("process.stdout.write('x')")).toBe(true)
  })
})
