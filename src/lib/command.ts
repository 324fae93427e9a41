/**
 * The base of every command: --json, and one place that turns errors into exit codes (2 for
 * usage and input, 1 for failed runs) and into messages on stderr — or, with --json, into a
 * JSON error object on stdout — with suggestions for what to do next.
 */
import {Command, type Interfaces} from '@oclif/core'
import {OpsError, EXIT} from './errors.js'
import {StateDir} from './engine/state.js'
import type {RunStore} from './engine/store.js'
import {resolve} from 'node:path'

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof OpsCommand)['baseFlags'] & T['flags']>
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export abstract class OpsCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  protected flags!: CommandFlags<T>
  protected args!: CommandArgs<T>

  protected override async init(): Promise<void> {
    await super.init()
    const {flags, args} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: this.ctor.baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as CommandFlags<T>
    this.args = args as CommandArgs<T>
  }

  protected stateDir(flag?: string): StateDir {
    return new StateDir(resolve(flag ?? process.env.CLIPPER_OPS_STATE_DIR ?? '.clipper-ops'))
  }

  /** Where runs are read from: the team's S3 state when the config names one (for --env, or for all), else the state dir. */
  protected async runStore(opts: {env?: string; config?: string; stateDir: StateDir}): Promise<RunStore> {
    const {storeFor} = await import('./engine/stores.js')
    return storeFor(opts)
  }

  /** Human output goes to stderr when --json owns stdout; otherwise to stdout. */
  protected say(message = ''): void {
    if (this.jsonEnabled()) return
    this.log(message)
  }

  /**
   * End a command that ran a runbook: its result is the --json output either way; a run that
   * did not succeed exits with its code (1 failed, 130 interrupted) after printing it.
   */
  protected finishRun(res: {exitCode: number; json: unknown}): unknown {
    if (res.exitCode !== 0) {
      if (this.jsonEnabled()) this.logJson(res.json)
      this.exit(res.exitCode)
    }
    return res.json
  }

  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}; code?: string}): Promise<never> {
    // oclif's own exits (help, version) pass through untouched.
    if (err.code === 'EEXIT') throw err
    // A flag's own check (Flags.custom parse) already names the flag; oclif wraps its message.
    if (err instanceof OpsError) err.message = err.message.replace(/^Parsing --\S+ \n\t/, '').replace(/\nSee more help with --help$/, '')
    const exitCode = err instanceof OpsError ? err.exitCode : (err.oclif?.exit ?? EXIT.failed)
    const code = err instanceof OpsError ? err.code : exitCode === EXIT.usage ? 'USAGE' : 'ERROR'
    const suggestions = err instanceof OpsError ? err.suggestions : []
    if (this.jsonEnabled()) {
      this.logJson({
        error: {
          code,
          exitCode,
          message: err.message,
          ...(suggestions.length ? {suggestions} : {}),
          ...(err instanceof OpsError && err.details !== undefined ? {details: err.details} : {}),
        },
      })
    } else {
      const prefix = exitCode === EXIT.usage ? 'Error' : 'Failed'
      process.stderr.write(`${prefix}: ${err.message}\n`)
      for (const s of suggestions) process.stderr.write(`  → ${s}\n`)
      if (exitCode !== EXIT.usage && !(err instanceof OpsError) && process.env.DEBUG) process.stderr.write(`${err.stack}\n`)
    }
    this.exit(exitCode)
  }
}
