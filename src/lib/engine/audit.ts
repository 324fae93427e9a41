/**
 * The audit trail: one append-only JSON line per thing an operator did to an environment
 * (runs started and finished, locks taken, broken and released, approvals), with who did it.
 */
import {appendFileSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {whoAmI, type Who} from './state.js'

export interface AuditEntry {
  at: string
  who: Who
  action: string
  scope?: string
  runId?: string
  detail?: Record<string, unknown>
}

export function audit(file: string, entry: Omit<AuditEntry, 'at'>): void {
  mkdirSync(dirname(file), {recursive: true, mode: 0o700})
  appendFileSync(file, `${JSON.stringify({at: new Date().toISOString(), ...entry})}\n`, {mode: 0o600})
}

/** `runs unlock --force`: a lock broken on purpose, with the operator's reason (in the team's trail when state is shared). */
export async function recordUnlock(store: {audit(entry: Omit<AuditEntry, 'at'>): Promise<void>}, scope: string, holder: unknown, reason: string): Promise<void> {
  await store.audit({who: whoAmI(), action: 'lock.broken', scope, detail: {reason, holder}})
}

/** A line of audit.jsonl that could not be read as an entry (a torn write, a hand edit). */
export interface AuditDamage {
  file: string
  /** 1-based. */
  line: number
  message: string
}

/** Does a parsed line look like an entry the writer above made? */
function isEntry(v: unknown): v is AuditEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const e = v as Record<string, unknown>
  const who = e.who as Record<string, unknown> | null | undefined
  return (
    typeof e.at === 'string' &&
    !Number.isNaN(Date.parse(e.at)) &&
    typeof e.action === 'string' &&
    typeof who === 'object' &&
    who !== null &&
    typeof who.user === 'string' &&
    typeof who.host === 'string'
  )
}

function parseEntry(text: string): AuditEntry | undefined {
  try {
    const v: unknown = JSON.parse(text)
    return isEntry(v) ? v : undefined
  } catch {
    return undefined
  }
}

/**
 * Read the audit trail, oldest first (the order it was appended in). Returns undefined when
 * there is no file yet. A damaged line is skipped and reported through onDamage, never thrown:
 * one bad line must not hide the rest of the trail. A write torn by a crash leaves no newline,
 * so the next entry is appended to the same line; that entry is kept.
 */
export function readAudit(file: string, onDamage: (d: AuditDamage) => void = () => undefined): AuditEntry[] | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const entries: AuditEntry[] = []
  const lines = text.split('\n')
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue
    const entry = parseEntry(line)
    if (entry) {
      entries.push(entry)
      continue
    }
    let glued = line.indexOf('{"at":', 1)
    let tail: AuditEntry | undefined
    while (glued > 0 && !(tail = parseEntry(line.slice(glued)))) glued = line.indexOf('{"at":', glued + 1)
    if (tail) entries.push(tail)
    onDamage({
      file,
      line: i + 1,
      message: tail
        ? `skipped ${glued} character(s) of a torn entry before a whole one, which is kept`
        : `skipped: not an audit entry (${line.length > 60 ? `${line.slice(0, 60)}…` : line})`,
    })
  }
  return entries
}

export interface AuditFilter {
  /** The entry's scope: the environment, or runbook-<name> for a run without one. */
  scope?: string
  since?: Date
  /** A prefix of the run id. */
  run?: string
  /** Globs (* and ?) or prefixes of the action; an entry matching any of them is kept. */
  actions?: string[]
}

/** `lock.*` and `lock` both match `lock.broken`; `*.failed` matches `run.failed`. */
export function actionMatcher(pattern: string): (action: string) => boolean {
  if (!/[*?]/.test(pattern)) return (action) => action.startsWith(pattern)
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  )
  return (action) => re.test(action)
}

export function filterAudit(entries: AuditEntry[], f: AuditFilter): AuditEntry[] {
  const since = f.since?.getTime()
  const actions = f.actions?.map(actionMatcher)
  return entries.filter(
    (e) =>
      (f.scope === undefined || e.scope === f.scope) &&
      (since === undefined || Date.parse(e.at) >= since) &&
      (f.run === undefined || (e.runId ?? '').startsWith(f.run)) &&
      (actions === undefined || actions.length === 0 || actions.some((m) => m(e.action))),
  )
}
