/**
 * Step kinds by name. Each loads on first use, so a command pays only for the kinds its
 * runbook uses; a kind's module keeps heavy clients (AWS SDK, Kubernetes) behind await import().
 * Adding a kind: write src/lib/steps/<kind>.ts exporting `default defineStep({...})`, add a line here.
 */
import type {Runbook} from '../runbook/schema.js'
import type {StepKind} from './types.js'

const LOADERS: Record<string, () => Promise<{default: StepKind}>> = {
  exec: () => import('./exec.js'),
  wait: () => import('./wait.js'),
  approval: () => import('./approval.js'),
  'http-check': () => import('./http-check.js'),
  'gate-http': () => import('./gate-http.js'),
  'gate-prometheus': () => import('./gate-prometheus.js'),
  'gate-cloudwatch-alarms': () => import('./gate-cloudwatch-alarms.js'),
  'gate-kubernetes': () => import('./gate-kubernetes.js'),
  gates: () => import('./gates.js'),
  'dns-weights': () => import('./dns-weights.js'),
  'dns-check': () => import('./dns-check.js'),
  compose: () => import('./compose.js'),
  terraform: () => import('./terraform.js'),
  helm: () => import('./helm.js'),
  verify: () => import('./verify.js'),
  'rds-restore': () => import('./rds-restore.js'),
  'rds-delete': () => import('./rds-delete.js'),
  'sql-check': () => import('./sql-check.js'),
  notify: () => import('./notify.js'),
}

export function knownKinds(): string[] {
  return Object.keys(LOADERS).sort()
}

export function isKnownKind(kind: string): boolean {
  return Object.hasOwn(LOADERS, kind)
}

const loaded = new Map<string, StepKind>()

export async function loadKind(kind: string): Promise<StepKind> {
  const hit = loaded.get(kind)
  if (hit) return hit
  const loader = LOADERS[kind]
  if (!loader) throw new Error(`unknown step kind "${kind}"; known kinds: ${knownKinds().join(', ')}`)
  const mod = (await loader()).default
  loaded.set(kind, mod)
  return mod
}

/** Every kind a runbook uses, in its steps, groups and compensations. */
export async function stepKinds(rb: Runbook): Promise<StepKind[]> {
  const names = new Set<string>()
  const specs = [...rb.steps, ...(rb.onFailure ?? [])]
  while (specs.length) {
    const s = specs.pop()!
    if (s.uses) names.add(s.uses)
    if (s.steps) specs.push(...s.steps)
    if (Array.isArray(s.onFailure)) specs.push(...s.onFailure)
  }
  return Promise.all([...names].filter(isKnownKind).map(loadKind))
}
