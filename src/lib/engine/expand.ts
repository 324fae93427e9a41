/**
 * Expanding a runbook into the flat list of step records a run walks through. Groups with
 * `forEach` are unrolled here, once, when the run is created; the expansion is stored in the
 * run's state so that a resume walks exactly the same steps.
 */
import {UsageError} from '../errors.js'
import {evaluateCondition, evaluateTemplate, hasExpression, resolveDeep, type Contexts} from '../runbook/expressions.js'
import {MAX_STEPS, type Runbook, type StepSpec} from '../runbook/schema.js'
import type {StepRecord} from './state.js'
import type {StepKind} from '../steps/types.js'

export function itemLabel(item: unknown, index: number): string {
  return typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean' ? String(item) : String(index + 1)
}

function specTitle(spec: StepSpec, ctx: Contexts): string {
  if (!spec.name) return spec.id
  try {
    return String(evaluateTemplate(spec.name, ctx))
  } catch {
    return spec.name
  }
}

/** A step's title: its name, else what its kind calls it (when its inputs resolve), else its id. */
export function stepTitle(rec: StepRecord, spec: StepSpec, kind: StepKind, ctx: Contexts): string {
  if (spec.name !== undefined || !kind.title) return rec.title
  try {
    const parsed = kind.inputs.safeParse(resolveDeep(spec.with ?? {}, ctx))
    return parsed.success ? kind.title(parsed.data) : rec.title
  } catch {
    return rec.title
  }
}

/** What a skipped step says: its ifSkipped (resolved), else that its condition is false. */
export function skipNote(spec: StepSpec, ctx: Contexts): {reason: string; warning: boolean} {
  const said = spec.ifSkipped
  if (said === undefined) return {reason: `condition is false (${String(spec.if)})`, warning: false}
  const {message, warning} = typeof said === 'string' ? {message: said, warning: false} : said
  try {
    return {reason: String(evaluateTemplate(message, ctx)), warning}
  } catch {
    return {reason: message, warning}
  }
}

export function expandSteps(rb: Runbook, ctx: Contexts): StepRecord[] {
  const out: StepRecord[] = []
  for (const [i, spec] of rb.steps.entries()) {
    if (spec.forEach === undefined) {
      out.push(newRecord(spec.id, `steps[${i}]`, spec, ctx))
      continue
    }
    const list = hasExpression(spec.forEach) ? evaluateTemplate(spec.forEach, ctx) : spec.forEach
    if (!Array.isArray(list)) {
      throw new UsageError(`Runbook "${rb.name}" step ${spec.id}: forEach gave ${JSON.stringify(list)}, not a list.`, {code: 'BAD_FOREACH'})
    }
    if (out.length + list.length * (spec.steps?.length ?? 0) > MAX_STEPS) {
      throw new UsageError(`Runbook "${rb.name}" step ${spec.id}: forEach over ${list.length} items would make more than ${MAX_STEPS} steps.`, {code: 'BAD_FOREACH'})
    }
    const as = spec.as ?? 'item'
    for (const [index, item] of list.entries()) {
      const local = {...ctx, [as]: item, index}
      const label = itemLabel(item, index)
      const groupId = `${spec.id}[${label}]`
      for (const [j, child] of (spec.steps ?? []).entries()) {
        const rec = newRecord(`${groupId}.${child.id}`, `steps[${i}].steps[${j}]`, child, local)
        rec.group = {id: groupId, title: specTitle(spec, local), item, index}
        out.push(rec)
      }
    }
  }
  return out
}

export function newRecord(id: string, specPath: string, spec: StepSpec, ctx: Contexts): StepRecord {
  return {id, specPath, kind: spec.uses ?? 'group', title: specTitle(spec, ctx), status: 'pending', attempts: 0, notes: {}}
}

/** Find a step's spec by the path stored in its record. */
export function specAt(rb: Runbook, specPath: string): StepSpec {
  let cur: unknown = rb
  for (const m of specPath.matchAll(/(\w+)\[(\d+)\]/g)) {
    cur = (cur as Record<string, StepSpec[]>)[m[1]!]?.[Number(m[2])]
  }
  if (!cur) throw new Error(`step ${specPath} is not in the runbook`)
  return cur as StepSpec
}

/** The compensating steps for a failed step: its own onFailure list, else the runbook's. */
export function compensationFor(rb: Runbook, failed: StepRecord, ctx: Contexts): StepRecord[] {
  const spec = specAt(rb, failed.specPath)
  const own = Array.isArray(spec.onFailure) ? {list: spec.onFailure, base: `${failed.specPath}.onFailure`} : undefined
  const chosen = own ?? (rb.onFailure && spec.onFailure !== 'continue' ? {list: rb.onFailure, base: 'onFailure'} : undefined)
  if (!chosen) return []
  return chosen.list.map((s, i) => {
    const rec = newRecord(`${failed.id}.on-failure.${s.id}`, `${chosen.base}[${i}]`, s, ctx)
    rec.compensationFor = failed.id
    rec.group = {id: `${failed.id}.on-failure`, title: `after ${failed.title} failed`, item: undefined, index: 0}
    return rec
  })
}

/** Resolve a spec's inputs, title and condition in the run's contexts. */
export function resolveSpec(spec: StepSpec, ctx: Contexts): {inputs: Record<string, unknown>; title: string; enabled: boolean} {
  const enabled = spec.if === undefined ? true : evaluateCondition(spec.if, ctx)
  return {inputs: resolveDeep(spec.with ?? {}, ctx) as Record<string, unknown>, title: specTitle(spec, ctx), enabled}
}
