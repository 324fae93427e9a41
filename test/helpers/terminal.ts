/**
 * Drive the CLI on a real terminal: a pseudo-terminal from util-linux's `script`, of a given size,
 * answering prompts as a person would (typing a line, or Ctrl-C).
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {BIN, waitFor} from './cli.js'

export const hasScript = existsSync('/usr/bin/script')

export interface TerminalOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  /** Answer each prompt, in order, once its text is on the screen: a line typed, or raw keys (e.g. '\x03' for Ctrl-C). */
  answers?: {prompt: string; keys: string}[]
  /** Columns × rows (default 120×40). */
  size?: [number, number]
  timeoutMs?: number
}

/** Run the CLI on a pty; the screen is what a person saw, without cursor movements. */
export async function onTerminal(args: string[], o: TerminalOptions): Promise<{code: number | null; screen: string}> {
  const line = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const [cols, rows] = o.size ?? [120, 40]
  const env = {...process.env, NO_COLOR: '1', CI: '', TERM: 'xterm', ...o.env}
  const child = spawn('script', ['-qec', `stty cols ${cols} rows ${rows}; exec ${line}`, '/dev/null'], {cwd: o.cwd, env})
  let screen = ''
  child.stdout.on('data', (d) => (screen += d))
  const closed = new Promise<number | null>((r) => child.on('close', r))
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000)
  let from = 0
  for (const a of o.answers ?? []) {
    await waitFor(() => screen.indexOf(a.prompt, from) >= 0, 60_000, `the prompt "${a.prompt}"`)
    from = screen.indexOf(a.prompt, from) + a.prompt.length
    await new Promise((r) => setTimeout(r, 300)) // the prompt listens once drawn
    child.stdin.write(a.keys)
  }
  const code = await closed
  clearTimeout(timer)
  const csi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g')
  return {code, screen: screen.replace(csi, '').replace(/\r/g, '')}
}
