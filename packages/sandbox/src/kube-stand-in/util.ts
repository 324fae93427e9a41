/** Small helpers shared by the stand-in's modules. */
import {createHash, randomBytes} from 'node:crypto'

/** Kubernetes' "safe" alphabet for generated name suffixes and pod-template-hash (no vowels, no look-alikes). */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789'

export function clone<T>(v: T): T {
  return structuredClone(v)
}

/** Structural equality for JSON values; key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]))
  const ak = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
  const bk = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/** RFC 3339 timestamp with second precision, as the API server writes them. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function randomSuffix(length = 5): string {
  const bytes = randomBytes(length)
  return [...bytes].map((b) => SAFE[b % SAFE.length]).join('')
}

/**
 * A stable 10-character hash of a JSON value in the safe alphabet (used for pod-template-hash).
 * Empty objects and lists are ignored: a template echoed back by a Go client (as `kubectl
 * rollout undo` does) carries `resources: {}` and the like, and must hash as the original.
 */
export function safeHash(value: unknown): string {
  const digest = createHash('sha256')
    .update(canonicalJson(prune(value, true)))
    .digest()
  return [...digest.subarray(0, 10)].map((b) => SAFE[b % SAFE.length]).join('')
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Drop null values (JSON null means "unset" in Kubernetes objects), and with `empty` also {} and []. */
export function prune<T>(value: T, empty = false): T {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map((v) => prune(v, empty)) as T
  if (!isPlainObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue
    const p = prune(v, empty)
    if (empty && ((Array.isArray(p) && p.length === 0) || (isPlainObject(p) && Object.keys(p).length === 0))) continue
    out[k] = p
  }
  return out as T
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
