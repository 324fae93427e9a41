import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {afterAll, describe, expect, it} from 'vitest'
import {startAwsFront} from '../src/aws-front/front.js'
import {startMoto} from '../src/aws-front/moto.js'
import {CREDENTIALS, REGION} from './aws-helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'aws-moto-test-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startMoto', () => {
  it('says how to install moto_server when it is not on PATH', async () => {
    const path = process.env.PATH
    process.env.PATH = dir
    try {
      await expect(startMoto()).rejects.toThrow('install it with pip install "moto[server]"')
    } finally {
      process.env.PATH = path
    }
  })

  it('starts moto on a free port, serves a front with a JSON-lines log file, and stops leaving no process', async () => {
    const logFile = join(dir, 'requests.jsonl')
    const moto = await startMoto({logFile: join(dir, 'moto.log')})
    try {
      expect(moto.url).toBe(`http://127.0.0.1:${moto.port}`)
      expect(alive(moto.pid)).toBe(true)
      const front = await startAwsFront({upstream: moto.url, logFile})
      try {
        const sts = new STSClient({endpoint: front.url, region: REGION, credentials: CREDENTIALS})
        await sts.send(new GetCallerIdentityCommand({}))
        await sts.send(new GetCallerIdentityCommand({}))
      } finally {
        await front.close()
      }
      const lines = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatchObject({service: 'sts', operation: 'GetCallerIdentity', method: 'POST', path: '/', status: 200, mutating: false})
      expect(Number.isNaN(Date.parse(String(lines[0]!.time)))).toBe(false)
    } finally {
      await moto.stop()
    }
    expect(alive(moto.pid)).toBe(false)
    await moto.stop() // twice is harmless
  })
})
