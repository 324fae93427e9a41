/**
 * On a real terminal: the task list (listr2's renderer) draws the engine's steps, an approval is
 * asked through it and answered by typing, and a compensating step appears under the step that
 * failed. The terminal is a pseudo-terminal from util-linux's `script`.
 */
import {spawn} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {BIN, removeDir, tempDir, waitFor} from '../helpers/cli.js'

const cwd = tempDir()
afterAll(() => removeDir(cwd))

/** Run the CLI on a pty (120×40 unless told); `answer` types a line once `prompt` is on the screen. */
async function onTerminal(args: string[], o: {prompt?: string; answer?: string; size?: [number, number]} = {}): Promise<{code: number | null; screen: string}> {
  const line = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const [cols, rows] = o.size ?? [120, 40]
  const child = spawn('script', ['-qec', `stty cols ${cols} rows ${rows}; exec ${line}`, '/dev/null'], {cwd, env: {...process.env, NO_COLOR: '1', CI: '', TERM: 'xterm'}})
  let screen = ''
  child.stdout.on('data', (d) => (screen += d))
  if (o.prompt) {
    await waitFor(() => screen.includes(o.prompt!), 30_000, `the prompt "${o.prompt}"`)
    await new Promise((r) => setTimeout(r, 300)) // the prompt listens once drawn
    child.stdin.write(`${o.answer}\r`)
  }
  const code = await new Promise<number | null>((r) => child.on('close', r))
  // What a person sees at the end: the last frame of each line, without cursor movements.
  const csi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g')
  return {code, screen: screen.replace(csi, '').replace(/\r/g, '')}
}

const hasScript = existsSync('/usr/bin/script')

describe.skipIf(!hasScript)('on a terminal', () => {
  test('the task list shows every step, and an approval is asked and answered on it', async () => {
    const rb = join(cwd, 'ask.yaml')
    writeFileSync(
      rb,
      'version: 1\nname: ask\nenvironment: none\nsteps:\n  - id: first\n    name: Prepare things\n    uses: wait\n    with: {duration: 100ms}\n  - id: approve\n    uses: approval\n    with: {message: "Ship it now?"}\n  - id: last\n    name: Ship it\n    uses: wait\n    with: {duration: 100ms}\n',
    )
    const r = await onTerminal(['run', rb, '--state-dir', join(cwd, 's1')], {prompt: 'Ship it now?', answer: 'y'})
    expect(r.code, r.screen).toBe(0)
    expect(r.screen).toContain('✔ Prepare things')
    expect(r.screen).toContain('✔ Approval: Ship it now? — approved')
    expect(r.screen).toContain('✔ Ship it')
    expect(r.screen).toMatch(/✔ ask: succeeded in [\d.]+m?s \(run /)
  })

  test('a terminal that reports no size (0×0) still shows the run and reaches its prompt', async () => {
    const rb = join(cwd, 'ask0.yaml')
    writeFileSync(rb, 'version: 1\nname: ask0\nenvironment: none\nsteps:\n  - id: approve\n    uses: approval\n    with: {message: "Go on?"}\n')
    const r = await onTerminal(['run', rb, '--state-dir', join(cwd, 's0')], {prompt: 'Go on?', answer: 'y', size: [0, 0]})
    expect(r.code, r.screen).toBe(0)
    expect(r.screen).toMatch(/✔ ask0: succeeded in/)
  })

  test('a failed step shows its compensating steps under it', async () => {
    const rb = join(cwd, 'comp.yaml')
    writeFileSync(
      rb,
      'version: 1\nname: comp\nenvironment: none\nonFailure:\n  - id: undo\n    name: Put things back\n    uses: wait\n    with: {duration: 100ms}\nsteps:\n  - id: boom\n    name: Break things\n    uses: exec\n    with: {command: sh, args: [-c, "exit 3"], idempotent: true}\n',
    )
    const r = await onTerminal(['run', rb, '--state-dir', join(cwd, 's2')])
    expect(r.code, r.screen).toBe(1)
    expect(r.screen).toMatch(/❯ Break things\n {2}› sh -c 'exit 3' exited with code 3/)
    expect(r.screen).toMatch(/\n {2}✔ Put things back/) // indented: a subtask of the failed step
    expect(r.screen).toMatch(/\n {2}✖ The run stops: Break things failed/)
    expect(r.screen).toContain('boom failed; its compensating steps ran: Put things back (succeeded)')
  })
})
