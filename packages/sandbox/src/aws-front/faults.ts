/**
 * Fault injection: rules that make matching calls fail (or slow down, or vanish) the way AWS
 * calls do, so retry and error paths are exercised.
 */
import {randomUUID} from 'node:crypto'
import {canonicalService} from './operation.js'

export const FAULT_KINDS = ['throttle', 'priorRequestNotComplete', 'http500', 'http503', 'latency', 'drop', 'lostResponse', 'lateResponse'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface FaultRule {
  /** Signing name (route53, rds, eks, backup, monitoring, sts, ec2) or an alias like cloudwatch; '*' for any. */
  service: string
  /** Operation name, e.g. ChangeResourceRecordSets; '*' for any. */
  operation: string
  kind: FaultKind
  /** Fire on the next N matching requests, then expire. Without count (and probability) every match fires. */
  count?: number
  /** Fire on each matching request with this probability (0..1); combined with count, at most count times. */
  probability?: number
  /**
   * For kind 'latency': the delay added before the request is forwarded. For 'lateResponse': how
   * long AWS's answer is held after the request took effect.
   */
  latencyMs?: number
}

export interface ActiveFault extends FaultRule {
  id: string
  /** How many requests it fired on so far. */
  hits: number
  /** Fires left when it has a count. */
  remaining?: number
}

export class FaultController {
  private rules: ActiveFault[] = []

  /** Adds a rule and returns its id. Throws on a rule that makes no sense. */
  add(rule: FaultRule): string {
    const checked = validateFaultRule(rule)
    const id = `f-${randomUUID().slice(0, 8)}`
    this.rules.push({...checked, id, hits: 0, ...(checked.count === undefined ? {} : {remaining: checked.count})})
    return id
  }

  /** Removes one rule (returns whether it existed), or every rule when no id is given. */
  clear(id?: string): boolean {
    if (id === undefined) {
      const had = this.rules.length > 0
      this.rules = []
      return had
    }
    const before = this.rules.length
    this.rules = this.rules.filter((r) => r.id !== id)
    return this.rules.length !== before
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({...r}))
  }

  /**
   * The faults that fire for this request, in the order they were added: any latency faults, then at
   * most one fault that answers instead of AWS. Firing uses up counts.
   */
  take(service: string, operation: string, random: () => number = Math.random): ActiveFault[] {
    const fired: ActiveFault[] = []
    for (const rule of this.rules) {
      if (!matches(rule, service, operation)) continue
      if (rule.probability !== undefined && random() >= rule.probability) continue
      const answers = rule.kind !== 'latency'
      if (answers && fired.some((f) => f.kind !== 'latency')) continue
      rule.hits++
      if (rule.remaining !== undefined) rule.remaining--
      fired.push({...rule})
    }
    this.rules = this.rules.filter((r) => r.remaining === undefined || r.remaining > 0)
    return fired
  }
}

function matches(rule: FaultRule, service: string, operation: string): boolean {
  const s = rule.service === '*' || canonicalService(rule.service) === canonicalService(service)
  const o = rule.operation === '*' || rule.operation.toLowerCase() === operation.toLowerCase()
  return s && o
}

/** Checks a rule (from code or from JSON over HTTP) and returns it normalised. */
export function validateFaultRule(input: unknown): FaultRule {
  if (!input || typeof input !== 'object') throw new Error('a fault rule must be an object')
  const r = input as Record<string, unknown>
  const kind = r.kind === 'latencyMs' ? 'latency' : r.kind
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`fault kind must be one of ${FAULT_KINDS.join(', ')}; got ${JSON.stringify(r.kind)}`)
  }
  const service = r.service ?? '*'
  const operation = r.operation ?? '*'
  if (typeof service !== 'string' || service === '') throw new Error('fault service must be a service name or *')
  if (typeof operation !== 'string' || operation === '') throw new Error('fault operation must be an operation name or *')
  const rule: FaultRule = {service, operation, kind: kind as FaultKind}
  if (r.count !== undefined) {
    if (typeof r.count !== 'number' || !Number.isInteger(r.count) || r.count < 1) throw new Error('fault count must be a whole number of at least 1')
    rule.count = r.count
  }
  if (r.probability !== undefined) {
    if (typeof r.probability !== 'number' || !(r.probability >= 0 && r.probability <= 1)) throw new Error('fault probability must be between 0 and 1')
    rule.probability = r.probability
  }
  if (kind === 'latency' || kind === 'lateResponse') {
    if (typeof r.latencyMs !== 'number' || !(r.latencyMs >= 0)) throw new Error(`a ${kind} fault needs latencyMs (a number of milliseconds, 0 or more)`)
    rule.latencyMs = r.latencyMs
  }
  return rule
}

/**
 * Faults that let the request take effect and then spoil the answer: the connection reset after
 * AWS accepted (lostResponse: the client cannot know whether its change went through), or the
 * answer held back (lateResponse: a window in which the change is made and the client not told).
 */
export function spoilsAnswer(kind: FaultKind): boolean {
  return kind === 'lostResponse' || kind === 'lateResponse'
}

/** How a fault is named in the request log. */
export function faultLabel(f: FaultRule): string {
  return f.kind === 'latency' || f.kind === 'lateResponse' ? `${f.kind}:${f.latencyMs}ms` : f.kind
}
