/**
 * Asking people. Prompts load lazily (inquirer is not needed by runs that never ask), never
 * happen without a TTY (or with --no-input), and run through listr2's inquirer adapter while a
 * task list is on screen so that the renderer and the prompt do not fight over the terminal.
 */
import type {PromptApi} from '../steps/types.js'

export interface PromptSettings {
  interactive: boolean
  yes: boolean
}

export function isInteractive(noInput: boolean): boolean {
  return !noInput && Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY) && process.env.CI !== 'true'
}

/** A prompt API bound to a listr task (or to the bare terminal when `task` is undefined). */
export function promptApi(settings: PromptSettings, task?: {prompt: (adapter: any) => {run: (p: any, cfg: any) => Promise<any>}}): PromptApi {
  return {
    interactive: settings.interactive,
    yes: settings.yes,
    async confirm(message, opts = {}) {
      if (!settings.interactive) throw new Error('cannot ask: no terminal (or --no-input)')
      const {confirm} = await import('@inquirer/prompts')
      const signal = opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined
      if (task) {
        const {ListrInquirerPromptAdapter} = await import('@listr2/prompt-adapter-inquirer')
        return Boolean(await task.prompt(ListrInquirerPromptAdapter).run(confirm, {message, default: opts.default ?? false}))
      }
      return confirm({message, default: opts.default ?? false}, {output: process.stderr, signal})
    },
  }
}

/** heroku-style typed confirmation for a protected environment: type its name to go on. */
export async function confirmByTyping(expected: string, message: string): Promise<boolean> {
  const {input} = await import('@inquirer/prompts')
  const answer = await input({message: `${message}\n  Type the environment name (${expected}) to continue:`}, {output: process.stderr})
  return answer.trim() === expected
}
