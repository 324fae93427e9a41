/**
 * Drive the built CLI as a user would: spawn `node bin/run.js …` (the Node that runs the tests is
 * the repo's pinned Node 24), in a temp directory of its own, with no TTY.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** What Node prints for process warnings: `(node:1234) [DEP0040] DeprecationWarning: …`. */
const NODE_WARNING = /^\(node:\d+\) (\[\w+\] )?\w*Warning: .*$/m

export interface CliOptions {
  /** The test expects a Node warning (none does today). */
  allowNodeWarnings?: boolean
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string
  timeoutMs?: number
}

function baseEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', CI: 'true', ...extra}
  delete env.CLIPPER_OPS_CONFIG
  delete env.CLIPPER_OPS_STATE_DIR
  delete env.CLIPPER_OPS_ENV
  for (const [k, v] of Object.entries(extra ?? {})) if (v === undefined) delete env[k]
  return env
}

export interface StartedCli {
  child: ChildProcess
  done: Promise<CliResult>
  /** What it has printed so far. */
  output(): {stdout: string; stderr: string}
}

export function startCli(args: string[], opts: CliOptions = {}): StartedCli {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: opts.cwd, env: baseEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  if (opts.input !== undefined) child.stdin!.end(opts.input)
  else child.stdin!.end()
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const done = new Promise<CliResult>((res, rej) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      // A Node warning mid-run (TimeoutNegativeWarning, a deprecation, MaxListeners…) is a defect a
      // user sees: every test that drives the CLI fails on one.
      const warning = NODE_WARNING.exec(stderr)
      if (warning && !opts.allowNodeWarnings) rej(new Error(`clipper-ops ${args.join(' ')} printed a Node warning: ${warning[0]}\n--- stderr ---\n${stderr}`))
      else res({code, signal, stdout, stderr})
    }),
  )
  return {child, done, output: () => ({stdout, stderr})}
}

export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done
}

export function tempDir(prefix = 'clipper-ops-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  rmSync(dir, {recursive: true, force: true})
}

/** Poll until fn returns a truthy value (or throw after timeoutMs). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export function readJournal(stateDir: string, runId: string): {type: string; stepId?: string; [k: string]: unknown}[] {
  const file = join(stateDir, 'runs', runId, 'journal.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l)]
      } catch {
        return []
      }
    })
}

export function onlyRunId(stateDir: string): string | undefined {
  const dir = join(stateDir, 'runs')
  if (!existsSync(dir)) return undefined
  return readdirSync(dir)[0]
}

/**
 * Wait until the run's journal has an entry that `when` accepts — a kill point. Fails at once,
 * with what the CLI printed, if the CLI ends before it gets there.
 */
export async function waitForJournal(
  stateDir: string,
  runId: string,
  when: (e: ReturnType<typeof readJournal>[number]) => boolean,
  run?: StartedCli,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    () => {
      if (readJournal(stateDir, runId).some(when)) return true
      if (run && (run.child.exitCode !== null || run.child.signalCode !== null)) {
        const {stderr} = run.output()
        throw new Error(`the CLI ended (${run.child.exitCode ?? run.child.signalCode}) before the kill point:\n${stderr.slice(-2000)}`)
      }
      return false
    },
    timeoutMs,
    'the kill point',
  )
}
