/**
 * Errors that know their exit code. Commands throw these; the base command maps them to
 * exit codes (2: usage and input, 1: a run that failed) and to the --json envelope.
 */
export const EXIT = {ok: 0, failed: 1, usage: 2, interrupted: 130} as const

/** The exit codes of every command that runs a runbook, said once for their help. */
export const RUN_EXIT_CODES =
  'Exit codes: 0 the run succeeded (or the dry run was made), 1 the run failed or was refused (the summary says what state the world is in and how to go on), 2 bad flags, config or runbook (nothing was changed), 130 stopped where it was, resumable: interrupted, or an approval not given (continue with "runs resume", or undo with the command the summary names).'

export class OpsError extends Error {
  readonly exitCode: number
  readonly code: string
  readonly suggestions: string[]
  readonly details?: unknown

  constructor(message: string, opts: {code?: string; exitCode?: number; suggestions?: string[]; details?: unknown; cause?: unknown} = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = new.target.name
    this.exitCode = opts.exitCode ?? EXIT.failed
    this.code = opts.code ?? 'FAILED'
    this.suggestions = opts.suggestions ?? []
    this.details = opts.details
  }
}

/** Bad flags, arguments or files given by the user. Nothing has been changed. */
export class UsageError extends OpsError {
  constructor(message: string, opts: {code?: string; suggestions?: string[]; details?: unknown} = {}) {
    super(message, {...opts, code: opts.code ?? 'USAGE', exitCode: EXIT.usage})
  }
}

export interface Problem {
  /** The file the problem is in. */
  file: string
  /** Dotted path inside the file, e.g. environments.production.dns.record.ttl */
  path: string
  /** 1-based line and column when known. */
  line?: number
  column?: number
  message: string
}

export function formatProblem(p: Problem): string {
  const where = p.line ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`
}

/** A configuration or runbook file that is not valid. Carries every problem found. */
export class InvalidFileError extends OpsError {
  readonly problems: Problem[]
  constructor(what: string, problems: Problem[]) {
    const head = problems.length === 1 ? `${what} is not valid:` : `${what} is not valid (${problems.length} problems):`
    super([head, ...problems.map((p) => `  ${formatProblem(p)}`)].join('\n'), {
      code: 'INVALID_FILE',
      exitCode: EXIT.usage,
      details: problems,
    })
    this.problems = problems
  }
}

/** A run that stopped because a step failed (or an approval was missing, or a deadline policy said so). */
export class RunFailedError extends OpsError {
  constructor(message: string, opts: {code?: string; suggestions?: string[]; details?: unknown; cause?: unknown} = {}) {
    super(message, {...opts, code: opts.code ?? 'RUN_FAILED', exitCode: EXIT.failed})
  }
}

/**
 * The run stops where it is, resumable, as after Ctrl-C: "no" at an approval, an approval that
 * nobody could give (no terminal, timed out, the prompt closed). Nothing is compensated; exit 130.
 */
export class RunPausedError extends OpsError {
  constructor(message: string, opts: {code?: string} = {}) {
    super(message, {code: opts.code ?? 'PAUSED', exitCode: EXIT.interrupted})
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
