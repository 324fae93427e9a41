/**
 * The base of the sandbox's commands. The sandbox is a plugin of the clipper-ops CLI and keeps
 * its conventions — --json, the state dir (--state-dir, CLIPPER_OPS_STATE_DIR, .clipper-ops/),
 * errors on stderr with exit 2 for usage and 1 for failures — without importing the CLI: it
 * only knows its contracts.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {resolve} from 'node:path'
import {EXIT, SandboxError} from './sandbox-error.js'

export type SandboxFlags<T extends typeof Command> = Interfaces.InferredFlags<T['flags']>

export const stateDirFlag = Flags.string({
  summary: 'Where run state, journals, locks, reports and the sandbox live.',
  description: 'Defaults to .clipper-ops/ in the current directory.',
  env: 'CLIPPER_OPS_STATE_DIR',
  helpGroup: 'GLOBAL',
})

export abstract class SandboxCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  protected flags!: SandboxFlags<T>

  protected override async init(): Promise<void> {
    await super.init()
    const {flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: this.ctor.baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as SandboxFlags<T>
  }

  /** The state dir the CLI uses too: the sandbox lives in its sandbox/ directory. */
  protected stateRoot(flag: string | undefined): string {
    return resolve(flag ?? '.clipper-ops')
  }

  /** A message for people: on stderr, and not at all with --json. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}; code?: string}): Promise<never> {
    if (err.code === 'EEXIT') throw err // oclif's own exits (help, version, this.exit)
    const exitCode = err instanceof SandboxError ? err.exitCode : (err.oclif?.exit ?? EXIT.failed)
    const code = err instanceof SandboxError ? err.code : exitCode === EXIT.usage ? 'USAGE' : 'ERROR'
    if (this.jsonEnabled()) this.logJson({error: {code, exitCode, message: err.message}})
    else process.stderr.write(`${exitCode === EXIT.usage ? 'Error' : 'Failed'}: ${err.message}\n`)
    this.exit(exitCode)
  }
}
