/**
 * Run an external tool (terraform, helm, docker, psql, a user's program) through execa: an
 * argument array (never a shell string), output streamed line by line with secrets masked, a
 * timeout, cancellation from an AbortSignal, and the child's pid reported as soon as it exists so
 * that a resumed run can tell whether the child of a dead run is still going.
 */
import type {Redactor} from '../util/redact.js'

export interface ToolRun {
  command: string
  args: string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Kill the tool after this long (SIGTERM, then SIGKILL 5 s later). */
  timeoutMs?: number
  signal?: AbortSignal
  /** Each output line (stdout and stderr), already redacted. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  onSpawn?: (pid: number) => void | Promise<void>
  redactor?: Redactor
  /** Text for stdin. */
  input?: string
}

export interface ToolResult {
  exitCode: number
  stdout: string
  stderr: string
  durationMs: number
  timedOut: boolean
  cancelled: boolean
  /** The command line for messages, quoted, redacted. */
  commandLine: string
  failed: boolean
  /** Set when the program could not be started (e.g. not installed). */
  spawnError?: string
}

export function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`
}

export function commandLine(command: string, args: string[], redactor?: Redactor): string {
  const line = [command, ...args].map(quoteArg).join(' ')
  return redactor ? redactor.text(line) : line
}

export async function runTool(t: ToolRun): Promise<ToolResult> {
  const {execa} = await import('execa')
  const started = Date.now()
  const cl = commandLine(t.command, t.args, t.redactor)
  const mask = (s: string) => (t.redactor ? t.redactor.text(s) : s)
  const lineSink = (stream: 'stdout' | 'stderr') =>
    function* (line: unknown) {
      t.onLine?.(mask(String(line)), stream)
      yield line
    }
  const child = execa(t.command, t.args, {
    cwd: t.cwd,
    env: t.env,
    extendEnv: t.env === undefined,
    reject: false,
    all: false,
    stripFinalNewline: true,
    timeout: t.timeoutMs,
    cancelSignal: t.signal,
    forceKillAfterDelay: 5000,
    input: t.input,
    stdin: t.input === undefined ? 'ignore' : undefined,
    stdout: t.onLine ? [lineSink('stdout'), 'pipe'] : 'pipe',
    stderr: t.onLine ? [lineSink('stderr'), 'pipe'] : 'pipe',
    maxBuffer: 50_000_000,
    // Its own process group: an abort or a timeout then stops what it started too (a shell's
    // children, terraform's provider plugins), not only the process itself.
    detached: true,
  })
  const stopGroup = () => {
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig)
      } catch {
        /* the group is gone */
      }
    }
    kill('SIGTERM')
    setTimeout(() => kill('SIGKILL'), 5000).unref()
  }
  t.signal?.addEventListener('abort', stopGroup, {once: true})
  const timer = t.timeoutMs ? setTimeout(stopGroup, t.timeoutMs) : undefined
  if (child.pid !== undefined) await t.onSpawn?.(child.pid)
  let r: Awaited<typeof child>
  try {
    r = await child
  } finally {
    t.signal?.removeEventListener('abort', stopGroup)
    clearTimeout(timer)
  }
  const spawnError = r.failed && r.exitCode === undefined && !r.timedOut && !r.isCanceled ? r.originalMessage || r.shortMessage : undefined
  return {
    exitCode: r.exitCode ?? (r.timedOut || r.isCanceled ? 124 : 127),
    stdout: mask(String(r.stdout ?? '')),
    stderr: mask(String(r.stderr ?? '')),
    durationMs: Date.now() - started,
    timedOut: Boolean(r.timedOut),
    cancelled: Boolean(r.isCanceled),
    commandLine: cl,
    failed: Boolean(r.failed),
    spawnError: spawnError ? mask(spawnError) : undefined,
  }
}

/** Is a process (by pid) still alive, and is it the same one (start time matches)? Linux /proc. */
export async function processAlive(pid: number, startTicks?: string): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  if (startTicks === undefined) return true
  return (await processStartTicks(pid)) === startTicks
}

/** The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), to rule out pid reuse. */
export async function processStartTicks(pid: number): Promise<string | undefined> {
  try {
    const {readFile} = await import('node:fs/promises')
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return afterName[19]
  } catch {
    return undefined
  }
}

/** Wait until a process has exited, or the time is up. */
export async function waitForExit(pid: number, startTicks: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (!(await processAlive(pid, startTicks))) return true
    if (signal?.aborted) return false
    await new Promise((r) => setTimeout(r, 200))
  }
  return !(await processAlive(pid, startTicks))
}

/** The environment variable that marks every process a step starts (and their children). */
export const STEP_TOKEN_ENV = 'CLIPPER_OPS_STEP'

/**
 * Live processes whose environment carries `name=value` (Linux /proc). A step's children inherit
 * its token, so after a crash the resume finds them even if their pid never reached the journal,
 * and even after they were re-parented away from the dead CLI.
 */
export async function findProcessesWithEnv(name: string, value: string): Promise<number[]> {
  const {readdir, readFile} = await import('node:fs/promises')
  let entries: string[]
  try {
    entries = await readdir('/proc')
  } catch {
    return []
  }
  const needle = `${name}=${value}\0`
  const found: number[] = []
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
      .map(async (e) => {
        try {
          const env = await readFile(`/proc/${e}/environ`, 'latin1')
          if (`${env}\0`.includes(needle) || env.startsWith(needle)) {
            const stat = await readFile(`/proc/${e}/stat`, 'utf8')
            // A zombie has exited; its parent just has not reaped it.
            if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') found.push(Number(e))
          }
        } catch {
          /* gone, or not ours to read */
        }
      }),
  )
  return found.sort((a, b) => a - b)
}
