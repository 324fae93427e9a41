import {mkdtempSync, readFileSync, writeFileSync, appendFileSync} from 'node:fs'
import {tmpdir, hostname} from 'node:os'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {formatDuration, parseDuration} from '../../src/lib/util/duration.js'
import {Redactor} from '../../src/lib/util/redact.js'
import {RunJournal, StateDir, whoAmI, type RunState} from '../../src/lib/engine/state.js'
import {acquireLock, FileLockBackend, LockHeldError} from '../../src/lib/engine/lock.js'

describe('durations', () => {
  test('parse and format', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('90')).toBe(90_000)
    expect(parseDuration(2)).toBe(2000)
    expect(parseDuration('soon')).toBeUndefined()
    expect(parseDuration('5 m')).toBeUndefined()
    expect(formatDuration(5_400_000)).toBe('1h30m')
    expect(formatDuration(1500)).toBe('1.5s')
    expect(formatDuration(42)).toBe('42ms')
  })
})

describe('redaction', () => {
  test('registered values, secret-named env vars and URL passwords', () => {
    const r = new Redactor({MY_API_KEY: 'k3y-value', PATH: '/usr/bin'})
    r.add('s3cr3t-pass')
    expect(r.text('a s3cr3t-pass b k3y-value /usr/bin')).toBe('a *** b *** /usr/bin')
    expect(r.text('postgres://app:pw-123@db:5432/x')).toBe('postgres://app:***@db:5432/x')
    expect(r.deep({a: ['s3cr3t-pass'], b: {c: 'k3y-value'}})).toEqual({a: ['***'], b: {c: '***'}})
  })
})

function draft(id: string): RunState {
  const now = new Date().toISOString()
  return {
    schema: 1,
    id,
    seq: 0,
    status: 'running',
    runbook: {name: 't', file: 't.yaml', sha256: 'x', builtin: false},
    lockScope: 't',
    params: {},
    protected: false,
    who: whoAmI(),
    createdAt: now,
    updatedAt: now,
    steps: [{id: 'a', specPath: 'steps[0]', kind: 'wait', title: 'a', status: 'pending', attempts: 0, notes: {}}],
    attempts: [],
  }
}

describe('state and journal', () => {
  test('state.json is a snapshot of the journal; newer journal lines are folded in on load; a torn last line is ignored', () => {
    const root = mkdtempSync(join(tmpdir(), 'st-'))
    const dir = new StateDir(root)
    const j = RunJournal.create(dir, draft('r1'), 'x')
    j.append({type: 'run.attempt', pid: 1, user: 'u', host: 'h', resumed: false})
    j.append({type: 'step.intent', stepId: 'a', attempt: 1})
    const snapshot = readFileSync(join(root, 'runs/r1/state.json'), 'utf8')
    j.append({type: 'step.succeeded', stepId: 'a', durationMs: 5})
    j.close()
    // Simulate a crash between the journal append and the snapshot write, plus a torn line.
    writeFileSync(join(root, 'runs/r1/state.json'), snapshot)
    appendFileSync(join(root, 'runs/r1/journal.jsonl'), '{"type":"step.fai')
    const s = dir.load('r1')
    expect(s.steps[0]!.status).toBe('succeeded')
    expect(s.seq).toBe(4)
    expect(dir.resolveId('latest')).toBe('r1')
    expect(() => dir.load('nope')).toThrow(/No run "nope"/)
  })
})

describe('file lock', () => {
  test('one holder at a time; a renewal keeps it; a stranger cannot release it', async () => {
    const backend = new FileLockBackend(mkdtempSync(join(tmpdir(), 'lk-')))
    const who = whoAmI()
    const lost: string[] = []
    const a = await acquireLock({backend, scope: 'prod', runId: 'r1', runbook: 'x', who, ttlMs: 60_000, onLost: (r) => lost.push(r)})
    await expect(acquireLock({backend, scope: 'prod', runId: 'r2', runbook: 'x', who, ttlMs: 60_000, onLost: () => undefined})).rejects.toThrow(LockHeldError)
    const before = a.lock.info.expiresAt
    await new Promise((r) => setTimeout(r, 5))
    await a.lock.renew()
    expect(a.lock.info.expiresAt > before).toBe(true)
    const stranger = {...a.lock.info, token: 'other'}
    expect(await backend.remove(stranger)).toBe(false)
    expect(await a.lock.release()).toBe(true)
    expect(await backend.read('prod')).toBeUndefined()
    expect(lost).toEqual([])
  })

  test('a create whose answer is lost (it went through, then the call failed) leaves no lock behind', async () => {
    const backend = new FileLockBackend(mkdtempSync(join(tmpdir(), 'lk-')))
    // The real file backend, with the answer of its create lost after the lock is written: what
    // the chaos campaign's lostResponse fault does to a Route 53 CREATE on every retry.
    const create = backend.create.bind(backend)
    backend.create = async (info) => {
      await create(info)
      throw new Error('socket hang up')
    }
    await expect(acquireLock({backend, scope: 'prod', runId: 'r1', runbook: 'x', who: whoAmI(), ttlMs: 60_000, onLost: () => undefined})).rejects.toThrow('socket hang up')
    expect(await backend.read('prod')).toBeUndefined()
  })

  test('release removes our lock as it is, also when a renewal whose answer was lost changed it', async () => {
    const backend = new FileLockBackend(mkdtempSync(join(tmpdir(), 'lk-')))
    // Removal as Route 53 does it: a DELETE must match the live record exactly.
    const remove = backend.remove.bind(backend)
    backend.remove = async (expected) => JSON.stringify(await backend.read(expected.scope)) === JSON.stringify(expected) && remove(expected)
    const a = await acquireLock({backend, scope: 'prod', runId: 'r1', runbook: 'x', who: whoAmI(), ttlMs: 60_000, onLost: () => undefined})
    a.lock.stop()
    // A shift's batch renewed the lease in Route 53, but its answer never came back.
    await backend.replace(a.lock.info, {...a.lock.info, renewedAt: new Date(Date.now() + 1000).toISOString()})
    expect(await a.lock.release()).toBe(true)
    expect(await backend.read('prod')).toBeUndefined()
  })

  test('a broken lock is noticed by its holder at the next renewal', async () => {
    const backend = new FileLockBackend(mkdtempSync(join(tmpdir(), 'lk-')))
    const lost: string[] = []
    const a = await acquireLock({
      backend,
      scope: 'prod',
      runId: 'r1',
      runbook: 'x',
      who: {user: 'u', host: hostname(), pid: process.pid},
      ttlMs: 60_000,
      onLost: (r) => lost.push(r),
    })
    a.lock.stop()
    expect(await backend.remove(a.lock.info)).toBe(true)
    await a.lock.renew()
    expect(lost[0]).toContain('removed')
  })
})
