/**
 * Step kinds by name. A kind's module is small: it keeps its heavy client (AWS SDK, Kubernetes)
 * behind await import(), so all kinds are imported here at once. (Loaded one by one, each kind and
 * each set of kinds that share code was a file of its own in the package, and npm installs per
 * file: 27 files, ~30 ms of every install, npm run bench.)
 * Adding a kind: write src/lib/steps/<kind>.ts exporting `default defineStep({...})`, add it here.
 */
import type {Runbook} from '../runbook/schema.js'
import approval from './approval.js'
import compose from './compose.js'
import dnsCheck from './dns-check.js'
import dnsWeights from './dns-weights.js'
import exec from './exec.js'
import gateCloudwatchAlarms from './gate-cloudwatch-alarms.js'
import gateHttp from './gate-http.js'
import gateKubernetes from './gate-kubernetes.js'
import gatePrometheus from './gate-prometheus.js'
import gates from './gates.js'
import helm from './helm.js'
import httpCheck from './http-check.js'
import notify from './notify.js'
import rdsDelete from './rds-delete.js'
import rdsRestore from './rds-restore.js'
import sqlCheck from './sql-check.js'
import terraform from './terraform.js'
import verify from './verify.js'
import wait from './wait.js'
import type {StepKind} from './types.js'

const KINDS: Record<string, StepKind> = {
  exec,
  wait,
  approval,
  'http-check': httpCheck,
  'gate-http': gateHttp,
  'gate-prometheus': gatePrometheus,
  'gate-cloudwatch-alarms': gateCloudwatchAlarms,
  'gate-kubernetes': gateKubernetes,
  gates,
  'dns-weights': dnsWeights,
  'dns-check': dnsCheck,
  compose,
  terraform,
  helm,
  verify,
  'rds-restore': rdsRestore,
  'rds-delete': rdsDelete,
  'sql-check': sqlCheck,
  notify,
}

export function knownKinds(): string[] {
  return Object.keys(KINDS).sort()
}

export function isKnownKind(kind: string): boolean {
  return Object.hasOwn(KINDS, kind)
}

/** Async as it was when kinds loaded lazily; callers need not care. */
export async function loadKind(kind: string): Promise<StepKind> {
  if (!isKnownKind(kind)) throw new Error(`unknown step kind "${kind}"; known kinds: ${knownKinds().join(', ')}`)
  return KINDS[kind]!
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
