/**
 * The README's rehearsal command: start the sandbox, roll out, roll back, stop — leaving no
 * process behind. Run as a newcomer runs it (with a shorter bake to keep the suite quick).
 */
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, removeDir, tempDir} from '../../../test/helpers/cli.js'
import {processesMentioning} from '../../../test/helpers/sandbox.js'

const cwd = tempDir()
afterAll(async () => {
  await cli(['sandbox', 'down', '--state-dir', join(cwd, '.clipper-ops')], {cwd})
  removeDir(cwd)
})

describe('sandbox rehearse', () => {
  test('rolls out to Kubernetes and back to Docker Compose, then stops everything', {timeout: 180_000}, async () => {
    const r = await cli(['sandbox', 'rehearse', '--bake', '1s', '--json', '--state-dir', join(cwd, '.clipper-ops')], {cwd, timeoutMs: 170_000})
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.cutover.status).toBe('succeeded')
    expect(out.rollback.status).toBe('succeeded')
    expect(out.rollback.durationMs).toBeLessThan(out.rollback.deadline.budgetMs)
    expect(processesMentioning(join(cwd, '.clipper-ops'))).toEqual([])
  })
})
