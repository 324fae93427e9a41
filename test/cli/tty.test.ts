/**
 * On a real terminal: the task list (listr2's renderer) draws the engine's steps, an approval is
 * asked through it and answered by typing, and a compensating step appears under the step that
 * failed. The terminal is a pseudo-terminal from util-linux's `script`.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {removeDir, tempDir} from '../helpers/cli.js'
import {hasScript, onTerminal as onPty} from '../helpers/terminal.js'

const cwd = tempDir()
afterAll(() => removeDir(cwd))

/** The CLI on a pty; `answer` is typed once `prompt` is on the screen. */
const onTerminal = (args: string[], o: {prompt?: string; answer?: string; size?: [number, number]} = {}) =>
  onPty(args, {cwd, size: o.size, answers: o.prompt ? [{prompt: o.prompt, keys: `${o.answer}\r`}] : []})

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
