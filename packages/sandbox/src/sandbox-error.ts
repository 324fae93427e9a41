/**
 * Errors the sandbox's commands throw, with the exit code each maps to. The same convention as
 * the CLI it plugs into: 2 for bad flags (nothing changed), 1 for a sandbox that failed.
 */
export const EXIT = {ok: 0, failed: 1, usage: 2} as const

export class SandboxError extends Error {
  readonly exitCode: number
  readonly code: string

  constructor(message: string, opts: {code?: string; exitCode?: number} = {}) {
    super(message)
    this.name = new.target.name
    this.exitCode = opts.exitCode ?? EXIT.failed
    this.code = opts.code ?? 'SANDBOX_FAILED'
  }
}

/** Bad flags or a sandbox that is not there: the user's to fix; nothing was changed. */
export class SandboxUsageError extends SandboxError {
  constructor(message: string, opts: {code?: string} = {}) {
    super(message, {code: opts.code ?? 'USAGE', exitCode: EXIT.usage})
  }
}
