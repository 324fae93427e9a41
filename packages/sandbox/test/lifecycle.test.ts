/**
 * `sandbox up` and `sandbox down` as processes: up returns when everything answers (and a second
 * up finds the running one), down leaves no process behind — also when the daemon was killed
 * with SIGKILL and left moto and PostgreSQL orphaned — and a missing moto_server is reported with how to install it.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, removeDir, tempDir} from '../../../test/helpers/cli.js'
import {processesMentioning} from '../../../test/helpers/sandbox.js'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) {
    await cli(['sandbox', 'down', '--state-dir', join(d, 'state')], {cwd: d})
    removeDir(d)
  }
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('sandbox lifecycle', () => {
  test('up, up again (already running), down: no process left', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const s = ['--state-dir', join(cwd, 'state')]
    const up = await cli(['sandbox', 'up', ...s, '--json'], {cwd})
    expect(up.code, up.stderr).toBe(0)
    const info = JSON.parse(up.stdout)
    expect(info.started).toBe(true)
    expect(alive(info.pid) && alive(info.motoPid)).toBe(true)
    // Everything answers at once.
    expect((await fetch(`${info.awsEndpoint}/_sandbox/health`)).ok).toBe(true)
    expect((await fetch(`${info.kubernetesApi}/version`)).ok).toBe(true)
    expect((await fetch(`${info.publicUrl}/health`)).status).toBe(200)

    const again = await cli(['sandbox', 'up', ...s, '--json'], {cwd})
    expect(JSON.parse(again.stdout)).toMatchObject({started: false, pid: info.pid})

    const down = await cli(['sandbox', 'down', ...s, '--json'], {cwd})
    expect(down.code, down.stderr).toBe(0)
    expect(JSON.parse(down.stdout).stopped.sort()).toEqual([info.pid, info.motoPid].sort())
    expect(alive(info.pid) || alive(info.motoPid)).toBe(false)
    expect(processesMentioning(join(cwd, 'state'))).toEqual([])
    const status = await cli(['sandbox', 'status', ...s], {cwd})
    expect(status.code).toBe(1)
    expect(status.stderr).toContain('No sandbox is running')
  })

  test('down after the daemon was SIGKILLed still stops its orphaned moto and PostgreSQL', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const s = ['--state-dir', join(cwd, 'state')]
    const info = JSON.parse((await cli(['sandbox', 'up', ...s, '--json'], {cwd})).stdout)
    // PostgreSQL's data may live outside the state dir (as root, where the postgres user can reach it).
    const pgData: string | undefined = info.postgres?.dataRoot
    process.kill(info.pid, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 200))
    expect(alive(info.motoPid)).toBe(true)
    if (pgData) expect(processesMentioning(pgData)).not.toEqual([])
    const status = await cli(['sandbox', 'status', ...s], {cwd})
    expect(status.code).toBe(1)
    await cli(['sandbox', 'down', ...s], {cwd})
    expect(alive(info.motoPid)).toBe(false)
    expect(processesMentioning(join(cwd, 'state'))).toEqual([])
    if (pgData) {
      expect(processesMentioning(pgData)).toEqual([])
      expect(existsSync(pgData)).toBe(false)
    }
    // And a new one starts cleanly in the same place.
    const up = await cli(['sandbox', 'up', ...s, '--json'], {cwd})
    expect(up.code, up.stderr).toBe(0)
    await cli(['sandbox', 'down', ...s], {cwd})
  })

  test('without moto_server on PATH, up fails saying how to install it, and leaves nothing running', async () => {
    const cwd = tempDir()
    dirs.push(cwd)
    const s = ['--state-dir', join(cwd, 'state')]
    const env = {PATH: '/usr/bin:/bin'}
    const up = await cli(['sandbox', 'up', ...s], {cwd, env})
    expect(up.code).toBe(1)
    expect(up.stderr).toContain('pip install "moto[server]"')
    expect(processesMentioning(join(cwd, 'state'))).toEqual([])
    expect(readFileSync(join(cwd, 'state', 'sandbox', 'daemon.log'), 'utf8')).toContain('moto_server was not found on PATH')
  })
})
