/**
 * Asking people on the terminal. Prompts load lazily (inquirer is not needed by runs that never
 * ask) and never happen without a TTY, with --no-input or in CI: a host then has no confirm.
 */
import type {ConfirmRequest} from '../engine/events.js'

export function isInteractive(noInput: boolean): boolean {
  return !noInput && Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY) && process.env.CI !== 'true'
}

/** A yes/no question on stderr (stdout stays for data), given up after the request's timeout. */
export async function confirmOnTerminal(request: ConfirmRequest): Promise<boolean> {
  const {confirm} = await import('@inquirer/prompts')
  const signal = request.timeoutMs ? AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]) : request.signal
  return confirm({message: request.message, default: request.default}, {output: process.stderr, signal})
}

/** heroku-style typed confirmation for a protected environment: type its name to go on. */
export async function confirmByTyping(expected: string, message: string): Promise<boolean> {
  const {input} = await import('@inquirer/prompts')
  const answer = await input({message: `${message}\n  Type the environment name (${expected}) to continue:`}, {output: process.stderr})
  return answer.trim() === expected
}
