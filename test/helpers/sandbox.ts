/**
 * An isolated sandbox per test file: its own state dir (so its own ports, config, pids), started
 * through the CLI as a user would, and always stopped — also when a test fails or times out.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'
import {parse} from 'yaml'
import {cli, removeDir, tempDir, type CliOptions, type CliResult} from './cli.js'

export interface SandboxStatus {
  awsEndpoint: string
  kubeconfig: string
  config: string
  environment: string
  stacks: {legacy: string; kubernetes: string}
  publicUrl: string
  controlUrl: string
  hostedZoneId: string
  recordName: string
  region: string
  bin: string
  pid: number
  motoPid: number
  readyMs: number
  ttl: number
}

export interface TestSandbox {
  cwd: string
  stateDir: string
  status: SandboxStatus
  /** Run the CLI in this sandbox's directory and state dir. */
  cli(args: string[], opts?: CliOptions): Promise<CliResult>
  /** The sandbox environment's tools.env (AWS profile files, KUBECONFIG, …) plus PATH with its bin/. */
  toolEnv(): NodeJS.ProcessEnv
  /** Requests the AWS front saw since `since` (ISO), optionally only mutating ones. */
  requests(
    since?: string,
    mutating?: boolean,
  ): Promise<{time: string; service: string; operation: string; mutating: boolean; status: number; fault?: string; changes?: string[]; comment?: string}[]>
}

/** Processes still running whose command line mentions `dir` (what `sandbox down` must leave none of). */
export function processesMentioning(dir: string): number[] {
  const out: number[] = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8')
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
      const zombie = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
      if (cmd.includes(dir) && !zombie) out.push(Number(e))
    } catch {
      /* gone */
    }
  }
  return out
}

export function useSandbox(opts: {ttl?: number; changeDelayMs?: number} = {}): () => TestSandbox {
  let sb: TestSandbox | undefined
  let cwd = ''
  beforeAll(async () => {
    cwd = tempDir('clipper-ops-sandbox-')
    const stateDir = join(cwd, '.clipper-ops')
    const run = (args: string[], o: CliOptions = {}) => cli([...args, '--state-dir', stateDir], {cwd, ...o})
    const up = await run(['sandbox', 'up', '--ttl', String(opts.ttl ?? 1), '--change-delay', String(opts.changeDelayMs ?? 500), '--json'])
    if (up.code !== 0) throw new Error(`sandbox up failed (${up.code}): ${up.stderr}${up.stdout}`)
    const status = JSON.parse(up.stdout) as SandboxStatus
    const toolEnv = () => {
      const cfg = parse(readFileSync(status.config, 'utf8'))
      const env = {...process.env, ...(cfg.environments.sandbox.tools.env as Record<string, string>)}
      env.PATH = `${status.bin}:${process.env.PATH}`
      return env
    }
    sb = {
      cwd,
      stateDir,
      status,
      cli: run,
      toolEnv,
      async requests(since, mutating) {
        const q = new URLSearchParams()
        if (since) q.set('since', since)
        if (mutating !== undefined) q.set('mutating', String(mutating))
        const r = await fetch(`${status.awsEndpoint}/_sandbox/requests?${q}`)
        return ((await r.json()) as {requests: never[]}).requests
      },
    }
  }, 120_000) // a loaded two-core machine takes up to half a minute to start one
  afterAll(async () => {
    if (cwd) {
      await cli(['sandbox', 'down', '--state-dir', join(cwd, '.clipper-ops')], {cwd})
      removeDir(cwd)
    }
  }, 30_000)
  return () => {
    if (!sb) throw new Error('the sandbox did not start (see beforeAll)')
    return sb
  }
}
