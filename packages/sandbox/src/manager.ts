/**
 * The CLI's side of the sandbox: start the daemon in the background and wait until everything
 * answers, stop it (and make sure no process is left), report its status, and talk to its
 * control API. Uses only node built-ins, so `sandbox status` starts fast.
 */
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {sandboxPackageRoot} from './package-root.js'
import {SandboxError, SandboxUsageError} from './sandbox-error.js'
import {SandboxLayout, type SandboxInfo} from './layout.js'
import {cleanupPostgres} from './postgres/cleanup.js'

export function layoutFor(stateDir: string): SandboxLayout {
  return new SandboxLayout(stateDir)
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** The running sandbox's info, or undefined when none runs. */
export function runningSandbox(stateDir: string): SandboxInfo | undefined {
  const layout = layoutFor(stateDir)
  const info = layout.readInfo()
  return info && info.state === 'ready' && alive(info.pid) ? info : undefined
}

export function requireSandbox(stateDir: string): SandboxInfo {
  const info = runningSandbox(stateDir)
  if (!info) throw new SandboxUsageError(`No sandbox is running for state dir ${stateDir}. Start one with: clipper-ops sandbox up`, {code: 'NO_SANDBOX'})
  return info
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export interface UpOptions {
  ttlSeconds?: number
  changeDelayMs?: number
  /** The CLI's own directory (oclif's config.root): its examples/ are the module and chart the sandbox provisions. */
  cliRoot?: string
  timeoutMs?: number
  /** Seconds between the snapshots copied to the secondary region (0: none after the seeded one). Default 60. */
  snapshotCopyIntervalSeconds?: number
}

export async function sandboxUp(stateDir: string, o: UpOptions = {}): Promise<{info: SandboxInfo; started: boolean}> {
  const existing = runningSandbox(stateDir)
  if (existing) return {info: existing, started: false}
  const layout = layoutFor(stateDir)
  await sandboxDown(stateDir) // leftovers of a sandbox that died: no stray moto, no stale pid files
  mkdirSync(layout.dir, {recursive: true, mode: 0o700})
  const daemon = join(sandboxPackageRoot(), 'dist', 'daemon.js')
  if (!existsSync(daemon)) throw new SandboxError(`The sandbox is not built (${daemon} is missing); run npm run build.`, {code: 'NOT_BUILT'})
  const log = openSync(layout.daemonLog, 'a')
  const args = [
    daemon,
    stateDir,
    '--ttl',
    String(o.ttlSeconds ?? 5),
    '--change-delay',
    String(o.changeDelayMs ?? 2000),
    '--snapshot-copy-interval',
    String(Math.round((o.snapshotCopyIntervalSeconds ?? 60) * 1000)),
    ...(o.cliRoot ? ['--cli-root', o.cliRoot] : []),
  ]
  // Detached: its own process group, which `down` stops as a whole (moto included).
  const child = spawn(process.execPath, args, {detached: true, stdio: ['ignore', log, log], env: {...process.env, NODE_OPTIONS: ''}})
  closeSync(log)
  child.unref()
  const until = Date.now() + (o.timeoutMs ?? 90_000)
  let exited: number | null = null
  child.on('exit', (code) => (exited = code ?? -1))
  while (Date.now() < until) {
    const info = layout.readInfo()
    if (info?.state === 'ready' && info.pid === child.pid) return {info, started: true}
    if (exited !== null) {
      await cleanupPostgres(layout.dir)
      throw new SandboxError(`The sandbox failed to start (exit ${exited}). From ${layout.daemonLog}:\n${tail(layout.daemonLog)}`, {code: 'SANDBOX_FAILED'})
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  await sandboxDown(stateDir)
  throw new SandboxError(`The sandbox did not get ready within ${Math.round((o.timeoutMs ?? 90_000) / 1000)}s. From ${layout.daemonLog}:\n${tail(layout.daemonLog)}`, {
    code: 'SANDBOX_TIMEOUT',
  })
}

/**
 * Stop the daemon's whole process group (moto too); SIGKILL what is left after 5 s. Then every
 * PostgreSQL server it started (they run detached, outside the group) and their data: the daemon
 * stops them itself, but one killed or stuck may not have.
 */
export async function sandboxDown(stateDir: string): Promise<{stopped: number[]}> {
  const layout = layoutFor(stateDir)
  const info = layout.readInfo()
  const pids = [...new Set([info?.pid, readPid(layout.daemonPid), info?.motoPid, readPid(layout.motoPid)].filter((p): p is number => !!p))]
  const living = pids.filter(alive)
  for (const pid of living) {
    try {
      process.kill(-pid, 'SIGTERM') // the group, when pid leads one (the daemon)
    } catch {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        /* gone */
      }
    }
  }
  const until = Date.now() + 5000
  while (Date.now() < until && living.some(alive)) await new Promise((r) => setTimeout(r, 50))
  for (const pid of living.filter(alive)) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  }
  await cleanupPostgres(layout.dir)
  const {rmSync} = await import('node:fs')
  for (const f of [layout.info, layout.daemonPid, layout.motoPid]) rmSync(f, {force: true})
  return {stopped: living}
}

export async function controlCall<T = any>(info: SandboxInfo, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${info.controlUrl}${path}`, body === undefined ? {} : {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  const json = (await r.json()) as T & {error?: string}
  if (!r.ok) throw new SandboxError(`The sandbox refused ${path}: ${json.error ?? r.status}`, {code: 'SANDBOX_CONTROL'})
  return json
}

export async function frontCall<T = any>(info: SandboxInfo, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${info.awsEndpoint}${path}`, {method, headers: {'content-type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)})
  const json = (await r.json()) as T & {error?: string}
  if (!r.ok) throw new SandboxUsageError(`The sandbox's AWS front refused the fault: ${json.error ?? r.status}`, {code: 'BAD_FAULT'})
  return json
}
