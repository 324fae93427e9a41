/**
 * The corpus of malformed files: every config in test/fixtures/bad-configs and every runbook in
 * test/fixtures/bad-runbooks must be refused the way a user meets it — the built CLI, spawned,
 * exits 2, says nothing on stdout, and names the field on stderr; with --json it prints one JSON
 * object whose error lists the problems with their paths. Each fixture states what the message
 * must say in its leading comments:
 *
 *   # expect: <substring that stderr (and the --json error message) must contain>
 *   # expect-not: <substring that must appear nowhere in the output, e.g. a password>
 *
 * Add a fixture by dropping a file in; there is nothing to register. The example config and the
 * good runbooks are checked too, so that the corpus cannot pass by rejecting everything.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {join, relative} from 'node:path'
import {beforeAll, describe, expect, test} from 'vitest'
import {ROOT, cli, type CliResult} from '../helpers/cli.js'

const BAD_CONFIGS = join(ROOT, 'test/fixtures/bad-configs')
const BAD_RUNBOOKS = join(ROOT, 'test/fixtures/bad-runbooks')
const EXAMPLE_CONFIG = join(ROOT, 'examples/clipper-ops.example.yaml')
const GOOD_RUNBOOKS = ['rollout-rehearsal.yaml', 'restore-check.yaml'].map((f) => join(ROOT, 'test/fixtures/runbooks', f))

interface Fixture {
  kind: 'config' | 'runbook'
  file: string
  name: string
  expects: string[]
  expectsNot: string[]
}

/** The `# expect:` and `# expect-not:` lines of the comment block a fixture starts with. */
function readFixture(kind: Fixture['kind'], file: string): Fixture {
  const expects: string[] = []
  const expectsNot: string[] = []
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('#')) break
    const m = /^#\s*expect(-not)?:\s?(.*?)\s*$/.exec(line)
    if (m) (m[1] ? expectsNot : expects).push(m[2]!)
  }
  return {kind, file, name: relative(ROOT, file), expects, expectsNot}
}

function fixtures(kind: Fixture['kind'], dir: string): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => readFixture(kind, join(dir, f)))
}

function validateArgs(kind: Fixture['kind'], file: string, json: boolean): string[] {
  const args = kind === 'config' ? ['config', 'validate', '--config', file] : ['runbook', 'validate', file]
  return json ? [...args, '--json'] : args
}

/** Run every job, at most `limit` at a time (each is a spawn of the CLI, ~0.3 s of CPU). */
async function inBatches<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length)
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, jobs.length)}, worker))
  return out
}

const corpus = [...fixtures('config', BAD_CONFIGS), ...fixtures('runbook', BAD_RUNBOOKS)]
// Every fixture is checked as a person meets it; the --json form on every fourth one (each spawn
// costs ~0.4 s of CPU, and the JSON error is the same text in another envelope).
const jsonSample = new Set(corpus.filter((_, i) => i % 4 === 0).map((f) => f.file))
const results = new Map<string, {plain: CliResult; json?: CliResult}>()
const valid = new Map<string, CliResult>()

beforeAll(async () => {
  const limit = Math.max(4, availableParallelism() * 2)
  const jobs: (() => Promise<void>)[] = []
  for (const f of corpus) {
    jobs.push(async () => {
      const [plain, json] = await Promise.all([cli(validateArgs(f.kind, f.file, false)), jsonSample.has(f.file) ? cli(validateArgs(f.kind, f.file, true)) : undefined])
      results.set(f.file, {plain, json})
    })
  }
  jobs.push(async () => void valid.set(EXAMPLE_CONFIG, await cli(validateArgs('config', EXAMPLE_CONFIG, false))))
  for (const file of GOOD_RUNBOOKS) jobs.push(async () => void valid.set(file, await cli(validateArgs('runbook', file, false))))
  // Each job is two spawns at once, so half the limit in jobs.
  await inBatches(jobs, Math.ceil(limit / 2))
}, 300_000)

describe('the corpus of malformed files', () => {
  test('is big enough, and every fixture says what its message must contain', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(20)
    expect(corpus.filter((f) => f.kind === 'config').length).toBeGreaterThanOrEqual(16)
    expect(corpus.filter((f) => f.kind === 'runbook').length).toBeGreaterThanOrEqual(16)
    for (const f of corpus) expect(f.expects.length, `${f.name} has no "# expect:" line`).toBeGreaterThan(0)
    for (const f of corpus) expect(readFileSync(f.file, 'utf8').startsWith('# expect:'), `${f.name} starts with "# expect:"`).toBe(true)
  })

  test.each(corpus.map((f) => [f.name, f] as const))('%s is refused with a message that names the field', (_name, f) => {
    const r = results.get(f.file)!.plain
    const shown = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`
    expect(r.code, shown).toBe(2)
    expect(r.stdout, shown).toBe('')
    for (const e of f.expects) expect(r.stderr, `stderr should contain ${JSON.stringify(e)}\n${shown}`).toContain(e)
    for (const e of f.expectsNot) expect(r.stderr, `stderr must not contain ${JSON.stringify(e)}\n${shown}`).not.toContain(e)
  })

  test.each(corpus.filter((f) => jsonSample.has(f.file)).map((f) => [f.name, f] as const))('%s --json prints the error with its problems and their paths', (_name, f) => {
    const r = results.get(f.file)!.json!
    const shown = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`
    expect(r.code, shown).toBe(2)
    let body: unknown
    expect(() => (body = JSON.parse(r.stdout)), `stdout is one JSON document\n${shown}`).not.toThrow()
    expect(body, shown).toBeTypeOf('object')
    const error = (body as {error?: {exitCode?: unknown; code?: unknown; message?: unknown; details?: unknown}}).error
    expect(error, shown).toBeDefined()
    expect(error!.exitCode, shown).toBe(2)
    expect(error!.code, shown).toBe('INVALID_FILE')
    expect(Array.isArray(error!.details) && error!.details.length > 0, `error.details lists the problems\n${shown}`).toBe(true)
    for (const p of error!.details as {path?: unknown; message?: unknown; file?: unknown}[]) {
      expect(p.path, `every problem has a path\n${shown}`).toBeTypeOf('string')
      expect(p.message, `every problem has a message\n${shown}`).toBeTypeOf('string')
      expect(p.file, shown).toBe(f.file)
    }
    // The JSON message is the same text as the human one, so the same expectations hold.
    for (const e of f.expects) expect(error!.message, `error.message should contain ${JSON.stringify(e)}\n${shown}`).toContain(e)
    for (const e of f.expectsNot) expect(r.stdout + r.stderr, `output must not contain ${JSON.stringify(e)}\n${shown}`).not.toContain(e)
  })
})

describe('the good files beside the corpus', () => {
  test('the example config validates', () => {
    const r = valid.get(EXAMPLE_CONFIG)!
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('valid, 2 environment(s)')
    expect(r.stdout).toContain('production (protected)')
    expect(r.stderr).toBe('')
  })

  test.each(GOOD_RUNBOOKS.map((f) => [relative(ROOT, f), f] as const))('%s validates', (_name, file) => {
    const r = valid.get(file)!
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('valid runbook')
    expect(r.stderr).toBe('')
  })
})
