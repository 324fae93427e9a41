/** Label and field selectors as they arrive in `?labelSelector=` and `?fieldSelector=`. */
import {ApiError} from './resources.js'
import type {K8sObject} from './store.js'

export type Predicate = (o: K8sObject) => boolean

/** Split on commas outside parentheses: `app in (a,b),tier=web` has two requirements. */
function requirements(selector: string): string[] {
  const out: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      out.push(current)
      current = ''
    } else current += ch
  }
  out.push(current)
  return out.map((s) => s.trim()).filter(Boolean)
}

export function labelSelector(selector: string | undefined): Predicate {
  if (!selector) return () => true
  const tests = requirements(selector).map((req): ((labels: Record<string, string>) => boolean) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req)
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string]
      const values = list.split(',').map((v) => v.trim())
      return op === 'in' ? (l) => key in l && values.includes(l[key]!) : (l) => !(key in l) || !values.includes(l[key]!)
    }
    m = /^([\w./-]+)\s*(==|=|!=|>|<)\s*([\w./-]*)$/.exec(req)
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string]
      if (op === '!=') return (l) => l[key] !== value
      if (op === '>' || op === '<') return (l) => key in l && (op === '>' ? Number(l[key]) > Number(value) : Number(l[key]) < Number(value))
      return (l) => l[key] === value
    }
    m = /^(!?)([\w./-]+)$/.exec(req)
    if (m) {
      const [, not, key] = m as unknown as [string, string, string]
      return not ? (l) => !(key in l) : (l) => key in l
    }
    throw ApiError.badRequest(`unable to parse requirement: ${JSON.stringify(req)}`)
  })
  return (o) => tests.every((t) => t(o.metadata.labels ?? {}))
}

/** Field selectors compare a dotted path (metadata.name, status.phase, spec.nodeName, ...) as a string. */
export function fieldSelector(selector: string | undefined): Predicate {
  if (!selector) return () => true
  const tests = requirements(selector).map((req): Predicate => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(req)
    if (!m) throw ApiError.badRequest(`invalid field selector: ${JSON.stringify(req)}`)
    const [, path, op, value] = m as unknown as [string, string, string, string]
    const read = (o: K8sObject): string => {
      let cur: unknown = o
      for (const seg of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined
      return cur === undefined || cur === null ? '' : String(cur)
    }
    return op === '!=' ? (o) => read(o) !== value : (o) => read(o) === value
  })
  return (o) => tests.every((t) => t(o))
}

/** Whether labels satisfy a structured LabelSelector ({matchLabels, matchExpressions}). */
export function matchesSelector(
  selector: {matchLabels?: Record<string, string>; matchExpressions?: Array<{key: string; operator: string; values?: string[]}>} | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!selector) return false
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels
    const inValues = has && (e.values ?? []).includes(labels[e.key]!)
    if ((e.operator === 'In' && !inValues) || (e.operator === 'NotIn' && inValues) || (e.operator === 'Exists' && !has) || (e.operator === 'DoesNotExist' && has)) return false
  }
  return true
}

/** The string form of matchLabels, as Scale and HPA status report it. */
export function selectorString(selector: {matchLabels?: Record<string, string>} | undefined): string {
  return Object.entries(selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}
