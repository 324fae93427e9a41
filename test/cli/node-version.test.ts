/** bin/run.js on a Node that is too old: one clear line, exit 2, no stack trace. */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {describe, expect, test} from 'vitest'
import {BIN} from '../helpers/cli.js'

const system = existsSync('/usr/bin/node') ? spawnSync('/usr/bin/node', ['--version'], {encoding: 'utf8'}).stdout.trim() : ''
const [major = 0, minor = 0] = system.replace(/^v/, '').split('.').map(Number)
const old = system !== '' && (major < 22 || (major === 22 && minor < 22) || major === 23 || (major === 24 && minor < 15))

describe('an old Node', () => {
  test.skipIf(!old)(`is refused in one line (system node ${system || 'absent'})`, () => {
    const r = spawnSync('/usr/bin/node', [BIN, '--help'], {encoding: 'utf8'})
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`clipper-ops needs Node.js 22.22.2 or newer in the 22 line, or 24.15 or newer (this is ${system.slice(1)})`)
  })
})
