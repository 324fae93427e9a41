/**
 * The audit trail for people: one line per entry, saying what happened in words (a shift as
 * before → after, an approval with how it was given, a lock taken over with from whom and why).
 * Actions it does not know (added by newer step kinds) fall back to their detail as key=value.
 */
import type {AuditEntry} from '../engine/audit.js'

/** Long enough for a change and its target; the whole entry is in --json. */
const MAX_DETAIL = 200

/** "2026-05-01 14:03:07Z": the trail mixes machines, so UTC, to the second. */
export function auditTime(e: AuditEntry): string {
  const d = new Date(e.at)
  return Number.isNaN(d.getTime()) ? e.at : `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`
}

/** user@host, and the AWS identity when the run had one (the ARN without its constant prefix). */
export function auditWho(e: AuditEntry): string {
  const local = `${e.who.user}@${e.who.host}`
  return e.who.aws ? `${local} (${e.who.aws.replace(/^arn:aws[\w-]*:(sts|iam)::/, '')})` : local
}

export function auditDetail(e: AuditEntry): string {
  const d = e.detail ?? {}
  const text = (DETAIL[e.action] ?? generic)(d, e)
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL - 1)}…` : line
}

type Detail = Record<string, unknown>

const DETAIL: Record<string, (d: Detail, e: AuditEntry) => string> = {
  'run.started': (d) => `${str(d.runbook) ?? 'run'}${params(d.params)}`,
  'run.resumed': (d) => `${str(d.runbook) ?? 'run'} resumed${params(d.params)}`,
  'run.succeeded': (d) => lockEnd(d),
  'run.failed': (d) => [failure(d.failure), lockEnd(d)].filter(Boolean).join('; '),
  'run.interrupted': (d) => [failure(d.failure), lockEnd(d)].filter(Boolean).join('; '),
  'lock.acquired': (d) => str(d.where) ?? '',
  'lock.taken-over': (d, e) => {
    const prev = obj(d.previous)
    if (!prev) return str(d.where) ?? ''
    // The engine takes over only a dead lock of the same run: expired, or its process gone.
    const expires = str(prev.expiresAt)
    const why = expires && Date.parse(expires) <= Date.parse(e.at) ? `its lock expired at ${expires}` : 'its process was gone'
    return `from ${holder(prev)}: ${why}`
  },
  'lock.broken': (d) => {
    const prev = obj(d.holder)
    return `${prev ? `from ${holder(prev)}` : 'lock'}${str(d.reason) ? `: "${str(d.reason)}"` : ''}`
  },
  'step.changed': (d) => `${str(d.step) ?? '?'}: ${(Array.isArray(d.changes) ? d.changes : []).map(change).join('; ')}`,
  approval: (d) => {
    const how = d.how === '--yes' ? 'by --yes' : d.how === 'prompt' ? 'at the prompt' : str(d.how) ? `(${str(d.how)})` : ''
    return `"${str(d.message) ?? ''}" ${d.approved === false ? 'declined' : 'approved'}${how ? ` ${how}` : ''}`
  },
  'dns.shift': (d) => {
    const before = obj(d.before) ?? {}
    const after = obj(d.after) ?? {}
    const roles = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    const moves = roles.map((r) => `${r} ${value(before[r])} → ${value(after[r])}`).join(', ')
    return `${str(d.record) ? `${str(d.record)}: ` : ''}${moves}${str(d.changeId) ? ` (change ${str(d.changeId)})` : ''}`
  },
  gates: (d) => {
    const results = (Array.isArray(d.results) ? d.results : []).map((r) => obj(r) ?? {})
    const parts = results.map((r) => `${str(r.id) ?? str(r.uses) ?? 'gate'} ${str(r.result) ?? '?'}${r.result !== 'pass' && str(r.summary) ? ` (${str(r.summary)})` : ''}`)
    return `${str(d.step) ? `${str(d.step)}: ` : ''}${parts.join(', ')}`
  },
}

function change(c: unknown): string {
  const o = obj(c)
  if (!o) return value(c)
  const target = str(o.target) ?? ''
  if ('before' in o || 'after' in o) return `${target} ${value(o.before)} → ${value(o.after)}`
  return `${str(o.action) ?? 'change'} ${target}`.trim()
}

function failure(f: unknown): string {
  const o = obj(f)
  if (!o) return ''
  const msg = (str(o.message) ?? '').split('\n')[0]!
  return `${str(o.stepId) ? `at ${str(o.stepId)}: ` : ''}${msg}${str(o.code) ? ` [${str(o.code)}]` : ''}`
}

function lockEnd(d: Detail): string {
  return d.lockReleased === true ? 'lock released' : d.lockReleased === false ? 'lock not released' : ''
}

function holder(l: Detail): string {
  const who = obj(l.holder)
  const name = who ? `${str(who.user) ?? '?'}@${str(who.host) ?? '?'}${who.pid !== undefined ? ` pid ${value(who.pid)}` : ''}` : 'an unknown holder'
  return `${name}${str(l.runId) ? ` (run ${str(l.runId)})` : ''}`
}

function params(p: unknown): string {
  const o = obj(p)
  if (!o || Object.keys(o).length === 0) return ''
  return ` ${Object.entries(o)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ')}`
}

function generic(d: Detail): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ')
}

function value(v: unknown): string {
  if (v === undefined) return '-'
  if (typeof v === 'string') return v === '' ? '""' : v
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x !== 'object' || x === null)) return v.join(',')
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function obj(v: unknown): Detail | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Detail) : undefined
}
