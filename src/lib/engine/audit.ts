/**
 * The audit trail: one append-only JSON line per thing an operator did to an environment
 * (runs started and finished, locks taken, broken and released, approvals), with who did it.
 */
import {appendFileSync, mkdirSync} from 'node:fs'
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

/** `runs unlock --force`: a lock broken on purpose, with the operator's reason. */
export function recordUnlock(file: string, scope: string, holder: unknown, reason: string): void {
  audit(file, {who: whoAmI(), action: 'lock.broken', scope, detail: {reason, holder}})
}
