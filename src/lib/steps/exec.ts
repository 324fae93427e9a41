/**
 * `exec`: run a program with an argument array. Idempotent when the runbook says how to tell
 * that its effect is already in place (`check`: a read-only command that exits 0 when done;
 * `creates`: a path that exists when done) or that running it twice is harmless (`idempotent`).
 * Without any of these, an interrupted exec is left for the operator to settle: clipper-ops
 * never blindly repeats a command, nor blindly skips one.
 */
import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import {z} from 'zod'
import {RunFailedError} from '../errors.js'
import {commandLine, findProcessesWithEnv, processStartTicks, runTool, STEP_TOKEN_ENV, waitForExit} from '../exec/run-tool.js'
import {parseDuration} from '../util/duration.js'
import {defineStep, type StepContext} from './types.js'

const command = z.strictObject({
  command: z.string({error: 'expected the program to run, e.g. psql'}).min(1, {error: 'expected the program to run, e.g. psql'}),
  args: z.array(z.union([z.string(), z.number()]).transform(String)).default([]),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
})

const inputs = command.extend({
  /** A read-only command that exits 0 when the effect is already in place. */
  check: command.optional(),
  /** A path that exists once the effect is in place. */
  creates: z.string().optional(),
  /** Running it again is harmless (e.g. `kubectl apply`); a resume may simply repeat it. */
  idempotent: z.boolean().default(false),
  /** Whether the command changes anything (false for status commands). */
  mutates: z.boolean().default(true),
  /** Exit codes that count as success. */
  successCodes: z.array(z.number().int()).default([0]),
  /** How to read stdout into outputs: text (outputs.stdout), json (outputs.json), lines (outputs.lines). */
  parse: z.enum(['text', 'json', 'lines']).default('text'),
  /** How long to wait for the command of an interrupted attempt that is still running. */
  waitForOrphan: z.string().default('10m'),
})

type Inputs = z.output<typeof inputs>

function stepToken(ctx: StepContext): string {
  return `${ctx.runId}:${ctx.stepId}`
}
type Command = z.output<typeof command>

async function runCommand(ctx: StepContext, c: Command, opts: {stream: boolean; notePid: boolean}) {
  // Journaled before the spawn: a resume that finds this note without a pid knows the command
  // may have started in the instant before its pid was written, and will not guess.
  if (opts.notePid) await ctx.note({spawning: true})
  return runTool({
    command: c.command,
    args: c.args,
    cwd: c.cwd ? resolve(c.cwd) : undefined,
    env: {...ctx.childEnv, ...c.env, ...(opts.notePid ? {[STEP_TOKEN_ENV]: stepToken(ctx)} : {})},
    signal: ctx.signal,
    redactor: {text: ctx.redact} as never,
    onLine: opts.stream ? (line) => ctx.log(line) : undefined,
    onSpawn: opts.notePid ? async (pid) => ctx.note({childPid: pid, childStart: await processStartTicks(pid)}) : undefined,
  })
}

/** Is the effect in place? undefined when the runbook gave no way to tell. */
async function effectInPlace(ctx: StepContext, i: Inputs): Promise<boolean | undefined> {
  if (i.creates !== undefined) {
    if (existsSync(resolve(i.cwd ?? '.', i.creates))) return true
    if (!i.check) return false
  }
  if (i.check) {
    const r = await runCommand(ctx, i.check, {stream: false, notePid: false})
    if (r.spawnError) throw new RunFailedError(`the check command could not start: ${r.spawnError}`)
    return r.exitCode === 0
  }
  return undefined
}

function parseOutput(i: Inputs, stdout: string): Record<string, unknown> {
  const clipped = stdout.length > 65_536 ? `${stdout.slice(0, 65_536)}…` : stdout
  if (i.parse === 'json') {
    try {
      return {json: JSON.parse(stdout) as unknown}
    } catch {
      throw new RunFailedError(`the command's output is not JSON (parse: json): ${clipped.slice(0, 200)}`)
    }
  }
  if (i.parse === 'lines') return {lines: stdout.split('\n').filter((l) => l !== '')}
  return {stdout: clipped}
}

export default defineStep({
  kind: 'exec',
  description: 'Run a program with an argument array (never a shell string); idempotent through check/creates',
  inputs,
  mutates: (i) => (i as {mutates?: boolean}).mutates !== false,
  title: (i) => commandLine(i.command, i.args),

  async plan(ctx, i) {
    const target = ctx.redact(commandLine(i.command, i.args))
    if (!i.mutates) return {summary: `would run ${target} (read-only)`, changes: [{action: 'check', target}]}
    const inPlace = await effectInPlace(ctx, i)
    if (inPlace) return {summary: 'already in place (check passed); would not run', changes: [{action: 'none', target, detail: 'check says done'}], observed: {inPlace}}
    return {
      summary: `would run ${target}`,
      changes: [{action: 'run', target, detail: inPlace === false ? 'check says not done yet' : undefined}],
      observed: {inPlace: inPlace ?? null},
    }
  },

  async run(ctx, i) {
    const target = ctx.redact(commandLine(i.command, i.args))
    if (i.mutates && (await effectInPlace(ctx, i))) {
      return {summary: 'already in place (check passed)', changes: [{action: 'none', target}], outputs: {skipped: true}}
    }
    const r = await runCommand(ctx, i, {stream: true, notePid: true})
    if (r.spawnError) throw new RunFailedError(`${target} could not start: ${r.spawnError}`, {code: 'SPAWN'})
    if (r.cancelled && ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled')
    if (!i.successCodes.includes(r.exitCode)) {
      const tail = (r.stderr || r.stdout).split('\n').slice(-5).join('\n')
      throw new RunFailedError(`${target} exited with code ${r.exitCode}${tail ? `:\n${tail}` : ''}`, {code: 'EXIT_CODE'})
    }
    return {
      summary: `exit ${r.exitCode}`,
      changes: [{action: i.mutates ? 'run' : 'check', target}],
      outputs: {exitCode: r.exitCode, durationMs: r.durationMs, ...parseOutput(i, r.stdout)},
    }
  },

  async reconcile(ctx, i) {
    // The dead run's command may still be going (it outlives a SIGKILLed parent): let it finish
    // before judging, or it could do its work after we decided to do it again. Its children carry
    // the step's token in their environment, so they are found even if their pid was never noted.
    const orphans = await findProcessesWithEnv(STEP_TOKEN_ENV, stepToken(ctx))
    const notedPid = ctx.previous.notes.childPid as number | undefined
    if (orphans.length > 0) {
      ctx.log(`the command of the interrupted attempt is still running (pid ${orphans.join(', ')}); waiting for it to finish`)
      const limit = Date.now() + (parseDuration(i.waitForOrphan) ?? 600_000)
      for (const pid of orphans) {
        const start = pid === notedPid ? (ctx.previous.notes.childStart as string | undefined) : await processStartTicks(pid)
        if (!(await waitForExit(pid, start, Math.max(0, limit - Date.now()), ctx.signal))) {
          return {unknown: `its command from the interrupted attempt (pid ${pid}) is still running after ${i.waitForOrphan}`}
        }
      }
    }
    if (!i.mutates) return {done: false}
    const inPlace = await effectInPlace(ctx, i)
    if (inPlace === true) return {done: true, summary: 'already in place (check passed after the interruption)', outputs: {skipped: true}}
    if (inPlace === false || i.idempotent) return {done: false}
    if (!ctx.previous.notes.spawning) return {done: false} // it never started: nothing can have happened
    return {unknown: 'the step has no check, creates or idempotent: true to tell whether it took effect'}
  },
})
