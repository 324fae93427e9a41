/** Running a tool: an abort or a timeout stops everything it started, its children's children too. */
import {describe, expect, test} from 'vitest'
import {runTool} from '../../src/lib/exec/run-tool.js'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs
  while (Date.now() < until) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !alive(pid)
}

describe('runTool', () => {
  test.each(['abort', 'timeout'] as const)('on %s, a grandchild (a shell’s background job) is stopped too', async (how) => {
    let grandchild = 0
    const abort = new AbortController()
    const run = runTool({
      command: 'sh',
      args: ['-c', 'sleep 60 & echo $!; wait'],
      signal: abort.signal,
      timeoutMs: how === 'timeout' ? 500 : undefined,
      onLine: (line) => {
        grandchild = Number(line)
        if (how === 'abort') abort.abort(new Error('received SIGINT'))
      },
    })
    const r = await run
    expect(r.exitCode).not.toBe(0)
    expect(grandchild).toBeGreaterThan(0)
    expect(await gone(grandchild, 3000), `sleep (pid ${grandchild}) outlived the ${how}`).toBe(true)
  })
})
