/**
 * `compose`: the legacy Docker Compose stack on its host, through the docker CLI with
 * DOCKER_HOST from the config (e.g. ssh://deploy@legacy.clpr.tv): up -d, ps, stop, down.
 * Idempotent: it reads `docker compose ps` first and does nothing when the services are
 * already as wanted; a dry run reads only.
 */
import {z} from 'zod'
import {UsageError, RunFailedError} from '../errors.js'
import {commandLine, runTool} from '../exec/run-tool.js'
import type {Environment} from '../config/schema.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  action: z.enum(['up', 'ps', 'stop', 'down'], {error: 'expected an action: up, ps, stop or down'}),
  /** Services to act on; default: compose.services from the config, else all. */
  services: z.array(z.string().min(1)).optional(),
})

type Inputs = z.output<typeof inputs>

export interface ServiceState {
  service: string
  state: string
  health: string
}

function composeConfig(env: Environment | undefined): NonNullable<Environment['compose']> {
  if (!env?.compose) throw new UsageError('This environment has no "compose" section in clipper-ops.yaml (file, project, dockerHost).', {code: 'NO_COMPOSE'})
  return env.compose
}

function baseArgs(env: Environment | undefined): string[] {
  const c = composeConfig(env)
  return ['compose', '-f', c.file, '-p', c.project]
}

function dockerEnv(ctx: StepContext): NodeJS.ProcessEnv {
  const host = composeConfig(ctx.environment).dockerHost
  return host ? {...ctx.childEnv, DOCKER_HOST: host} : ctx.childEnv
}

/** `docker compose ps` prints JSON lines (newer) or one JSON array (older v2 releases). */
export function parsePs(stdout: string): ServiceState[] {
  const text = stdout.trim()
  if (!text) return []
  const rows: Record<string, unknown>[] = text.startsWith('[')
    ? JSON.parse(text)
    : text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
  return rows.map((r) => ({service: String(r.Service ?? r.Name), state: String(r.State ?? '').toLowerCase(), health: String(r.Health ?? '')}))
}

async function ps(ctx: StepContext, i: Inputs): Promise<ServiceState[]> {
  const args = [...baseArgs(ctx.environment), 'ps', '--all', '--format', 'json']
  const r = await runTool({command: 'docker', args, env: dockerEnv(ctx), signal: ctx.signal, timeoutMs: 60_000, redactor: {text: ctx.redact} as never})
  if (r.spawnError) throw new RunFailedError(`docker could not start: ${r.spawnError}. Is the docker CLI installed?`, {code: 'NO_DOCKER'})
  if (r.exitCode !== 0) throw new RunFailedError(`${r.commandLine} exited ${r.exitCode}: ${(r.stderr || r.stdout).split('\n').slice(-3).join(' ')}`, {code: 'EXIT_CODE'})
  const wanted = services(ctx, i)
  const all = parsePs(r.stdout)
  return wanted.length ? all.filter((s) => wanted.includes(s.service)) : all
}

function services(ctx: StepContext, i: Inputs): string[] {
  return i.services ?? composeConfig(ctx.environment).services
}

function inPlace(action: Inputs['action'], states: ServiceState[], wanted: string[]): boolean {
  const running = (s: ServiceState) => s.state === 'running'
  if (action === 'up') return states.length > 0 && states.every(running) && wanted.every((w) => states.some((s) => s.service === w))
  if (action === 'stop') return states.every((s) => !running(s))
  if (action === 'down') return states.length === 0 || states.every((s) => !running(s))
  return true
}

export default defineStep({
  kind: 'compose',
  description: 'docker compose up -d / ps / stop / down on the legacy host (DOCKER_HOST from config)',
  inputs,
  mutates: (i) => (i as Inputs).action !== 'ps',
  title: (i) => `docker compose ${i.action === 'up' ? 'up -d' : i.action}${i.services?.length ? ` ${i.services.join(' ')}` : ''}`,

  async plan(ctx, i) {
    const states = await ps(ctx, i)
    const target = commandLine('docker', [...baseArgs(ctx.environment), ...(i.action === 'up' ? ['up', '-d'] : [i.action]), ...services(ctx, i)])
    const observed = states.map((s) => `${s.service}:${s.state}`)
    if (i.action === 'ps' || inPlace(i.action, states, services(ctx, i))) {
      return {
        summary: `${i.action === 'ps' ? 'read' : 'already as wanted'}: ${observed.join(', ') || 'no services'}`,
        changes: [{action: i.action === 'ps' ? 'check' : 'none', target}],
        observed,
      }
    }
    return {
      summary: `would run ${target} (now ${observed.join(', ') || 'no services'})`,
      changes: [{action: 'run', target, before: observed}],
      observed,
      estimateMs: 15_000,
      worstCaseMs: 120_000,
    }
  },

  async run(ctx, i) {
    const wanted = services(ctx, i)
    const before = await ps(ctx, i)
    if (i.action === 'ps' || inPlace(i.action, before, wanted)) {
      const summary = before.map((s) => `${s.service} ${s.state}${s.health ? ` (${s.health})` : ''}`).join(', ') || 'no services'
      return {summary: i.action === 'ps' ? summary : `already as wanted: ${summary}`, outputs: {services: before}}
    }
    const args = [...baseArgs(ctx.environment), ...(i.action === 'up' ? ['up', '-d'] : [i.action]), ...wanted]
    ctx.log(`DOCKER_HOST=${composeConfig(ctx.environment).dockerHost ?? '(default)'} ${commandLine('docker', args)}`)
    const r = await runTool({
      command: 'docker',
      args,
      env: dockerEnv(ctx),
      signal: ctx.signal,
      timeoutMs: 600_000,
      onLine: (l) => ctx.log(l),
      redactor: {text: ctx.redact} as never,
    })
    if (r.spawnError) throw new RunFailedError(`docker could not start: ${r.spawnError}`, {code: 'NO_DOCKER'})
    if (r.exitCode !== 0) throw new RunFailedError(`${r.commandLine} exited ${r.exitCode}: ${(r.stderr || r.stdout).split('\n').slice(-5).join('\n')}`, {code: 'EXIT_CODE'})
    const after = await ps(ctx, i)
    if (!inPlace(i.action, after, wanted)) {
      throw new RunFailedError(`after ${r.commandLine}, the services are ${after.map((s) => `${s.service}:${s.state}`).join(', ') || 'gone'}`, {code: 'COMPOSE_STATE'})
    }
    return {
      summary: `${after.map((s) => `${s.service} ${s.state}`).join(', ') || 'no services'}`,
      outputs: {services: after},
      changes: [{action: 'run', target: r.commandLine, before: before.map((s) => `${s.service}:${s.state}`), after: after.map((s) => `${s.service}:${s.state}`)}],
    }
  },
})
