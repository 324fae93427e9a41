/**
 * Runs moto_server (the Python AWS emulator) on a free loopback port for the sandbox and tests.
 */
import {spawn} from 'node:child_process'
import {openSync, closeSync} from 'node:fs'
import {createServer} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

export interface MotoServer {
  url: string
  port: number
  pid: number
  stop(): Promise<void>
}

export const MOTO_INSTALL_HINT = 'install it with pip install "moto[server]"'

/** A port nothing listens on right now (the kernel picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const {port} = srv.address() as {port: number}
      srv.close(() => resolve(port))
    })
  })
}

/** Live moto processes of this Node process, killed on exit so none is left behind. */
const running = new Set<number>()
let exitHookInstalled = false

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

export async function startMoto(opts: {port?: number; logFile?: string; readyTimeoutMs?: number} = {}): Promise<MotoServer> {
  const host = '127.0.0.1'
  const port = opts.port ?? (await freePort(host))
  const url = `http://${host}:${port}`
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore'

  // Not detached: a Ctrl-C in the terminal reaches moto too. (pip's script and pyenv's shim both
  // exec python, so the pid is moto's own.)
  const child = spawn('moto_server', ['-H', host, '-p', String(port)], {
    stdio: ['ignore', out, out],
    // ACM: a requested certificate is ISSUED at once (moto waits 60 s by default; AWS, the DNS validation).
    // IAM: AWS's managed policies exist, as the example Terraform module's roles attach them.
    env: {MOTO_ACM_VALIDATION_WAIT: '0', MOTO_IAM_LOAD_MANAGED_POLICIES: 'true', ...process.env, PYTHONUNBUFFERED: '1'},
  })
  if (typeof out === 'number') closeSync(out)

  let exited: {code: number | null; signal: NodeJS.Signals | null} | undefined
  let spawnError: NodeJS.ErrnoException | undefined
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = {code, signal}
      if (child.pid) running.delete(child.pid)
      resolve()
    })
    child.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = e
      resolve()
    })
  })

  if (child.pid) {
    running.add(child.pid)
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.once('exit', () => {
        for (const pid of running) kill(pid, 'SIGKILL')
      })
    }
  }

  const stop = async (): Promise<void> => {
    if (!child.pid || exited || spawnError) return
    kill(child.pid, 'SIGTERM')
    const done = await Promise.race([exitPromise.then(() => true), sleep(3000).then(() => false)])
    if (!done) {
      kill(child.pid, 'SIGKILL')
      await exitPromise
    }
  }

  // Wait until it answers HTTP.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000)
  for (;;) {
    if (spawnError) {
      if (spawnError.code === 'ENOENT') throw new Error(`moto_server was not found on PATH; ${MOTO_INSTALL_HINT}`)
      throw new Error(`could not start moto_server: ${spawnError.message}`)
    }
    if (exited) {
      throw new Error(
        `moto_server exited before it answered (code ${exited.code ?? exited.signal})` +
          (opts.logFile ? `; see ${opts.logFile}` : '') +
          `. If it is not installed, ${MOTO_INSTALL_HINT}`,
      )
    }
    if (await answers(`${url}/moto-api/`)) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`moto_server did not answer on ${url} within ${opts.readyTimeoutMs ?? 30_000}ms`)
    }
    await sleep(100)
  }

  return {url, port, pid: child.pid!, stop}
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {signal: AbortSignal.timeout(1000)})
    await res.arrayBuffer()
    return res.ok
  } catch {
    return false
  }
}
