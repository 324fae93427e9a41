/**
 * Server-side printing: `kubectl get` asks for `as=Table` and prints the server's columns.
 * Plain lists are accepted too, but then kubectl shows only NAME and AGE, so the common kinds
 * get the columns a real cluster shows (READY/STATUS/RESTARTS for pods, and so on).
 */
import type {ResourceType} from './resources.js'
import type {K8sObject} from './store.js'

type Cell = string | number
type Column = [name: string, type: 'string' | 'integer', cell: (o: K8sObject) => Cell, priority?: number]

/** Whether an Accept header asks for a meta.k8s.io Table. */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '')
}

export function toTable(r: ResourceType, objects: K8sObject[], resourceVersion: string, listMeta: Record<string, unknown> = {}): object {
  const columns: Column[] = [['Name', 'string', (o) => o.metadata.name ?? ''], ...(COLUMNS[r.kind] ?? [['Age', 'string', age]])]
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {...listMeta, resourceVersion},
    columnDefinitions: columns.map(([name, type, , priority], i) => ({name, type, format: i === 0 ? 'name' : '', description: '', priority: priority ?? 0})),
    rows: objects.map((o) => ({cells: columns.map(([, , cell]) => cell(o)), object: o})),
  }
}

function age(o: K8sObject): string {
  return since(o.metadata.creationTimestamp)
}

/** kubectl's HumanDuration, roughly. */
function since(time: string | undefined): string {
  if (!time) return '<unknown>'
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(time)) / 1000))
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  const d = Math.floor(h / 24)
  if (s < 120) return `${s}s`
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  if (h < 3) return `${m}m`
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  if (h < 48) return `${h}h`
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
  return `${d}d`
}

const str = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : String(v))
const condition = (o: K8sObject, type: string): string | undefined => (o.status?.conditions ?? []).find((c: {type: string}) => c.type === type)?.status

function podStatus(o: K8sObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating'
  for (const c of o.status?.containerStatuses ?? []) {
    const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason
    if (reason) return reason
  }
  return o.status?.phase ?? 'Pending'
}

function servicePorts(o: K8sObject): string {
  const ports: Array<{port: number; nodePort?: number; protocol?: string}> = o.spec?.ports ?? []
  return ports.length === 0 ? '<none>' : ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',')
}

const COLUMNS: Record<string, Column[]> = {
  Namespace: [
    ['Status', 'string', (o) => o.status?.phase ?? ''],
    ['Age', 'string', age],
  ],
  Node: [
    ['Status', 'string', (o) => (condition(o, 'Ready') === 'True' ? 'Ready' : 'NotReady')],
    ['Roles', 'string', () => '<none>'],
    ['Age', 'string', age],
    ['Version', 'string', (o) => o.status?.nodeInfo?.kubeletVersion ?? ''],
    ['Internal-IP', 'string', (o) => str(o.status?.addresses?.find((a: {type: string}) => a.type === 'InternalIP')?.address), 1],
  ],
  Pod: [
    ['Ready', 'string', (o) => `${(o.status?.containerStatuses ?? []).filter((c: {ready: boolean}) => c.ready).length}/${(o.spec?.containers ?? []).length}`],
    ['Status', 'string', podStatus],
    ['Restarts', 'integer', (o) => (o.status?.containerStatuses ?? []).reduce((n: number, c: {restartCount?: number}) => n + (c.restartCount ?? 0), 0)],
    ['Age', 'string', age],
    ['IP', 'string', (o) => str(o.status?.podIP), 1],
    ['Node', 'string', (o) => str(o.spec?.nodeName), 1],
  ],
  Service: [
    ['Type', 'string', (o) => o.spec?.type ?? 'ClusterIP'],
    ['Cluster-IP', 'string', (o) => str(o.spec?.clusterIP)],
    ['External-IP', 'string', (o) => str((o.status?.loadBalancer?.ingress ?? []).map((i: {ip?: string; hostname?: string}) => i.ip ?? i.hostname).join(','))],
    ['Port(s)', 'string', servicePorts],
    ['Age', 'string', age],
    [
      'Selector',
      'string',
      (o) =>
        str(
          Object.entries(o.spec?.selector ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        ),
      1,
    ],
  ],
  ConfigMap: [
    ['Data', 'integer', (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length],
    ['Age', 'string', age],
  ],
  Secret: [
    ['Type', 'string', (o) => String(o.type ?? 'Opaque')],
    ['Data', 'integer', (o) => Object.keys(o.data ?? {}).length],
    ['Age', 'string', age],
  ],
  Event: [
    ['Last Seen', 'string', (o) => since(String(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp))],
    ['Type', 'string', (o) => str(o.type)],
    ['Reason', 'string', (o) => str(o.reason)],
    [
      'Object',
      'string',
      (o) => {
        const io = o.involvedObject as {kind?: string; name?: string} | undefined
        return `${(io?.kind ?? '').toLowerCase()}/${io?.name ?? ''}`
      },
    ],
    ['Message', 'string', (o) => str(o.message)],
  ],
  Deployment: [
    ['Ready', 'string', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`],
    ['Up-to-date', 'integer', (o) => o.status?.updatedReplicas ?? 0],
    ['Available', 'integer', (o) => o.status?.availableReplicas ?? 0],
    ['Age', 'string', age],
    ['Containers', 'string', (o) => (o.spec?.template?.spec?.containers ?? []).map((c: {name: string}) => c.name).join(','), 1],
    ['Images', 'string', (o) => (o.spec?.template?.spec?.containers ?? []).map((c: {image: string}) => c.image).join(','), 1],
  ],
  ReplicaSet: [
    ['Desired', 'integer', (o) => o.spec?.replicas ?? 1],
    ['Current', 'integer', (o) => o.status?.replicas ?? 0],
    ['Ready', 'integer', (o) => o.status?.readyReplicas ?? 0],
    ['Age', 'string', age],
  ],
  HorizontalPodAutoscaler: [
    ['Reference', 'string', (o) => `${o.spec?.scaleTargetRef?.kind}/${o.spec?.scaleTargetRef?.name}`],
    ['Targets', 'string', (o) => ((o.spec?.metrics ?? []).length ? 'cpu: <unknown>' : '<none>')],
    ['MinPods', 'integer', (o) => o.spec?.minReplicas ?? 1],
    ['MaxPods', 'integer', (o) => o.spec?.maxReplicas ?? 0],
    ['Replicas', 'integer', (o) => o.status?.currentReplicas ?? 0],
    ['Age', 'string', age],
  ],
  Ingress: [
    ['Class', 'string', (o) => str(o.spec?.ingressClassName)],
    ['Hosts', 'string', (o) => str((o.spec?.rules ?? []).map((r: {host?: string}) => r.host ?? '*').join(','))],
    ['Address', 'string', (o) => str((o.status?.loadBalancer?.ingress ?? []).map((i: {ip?: string; hostname?: string}) => i.ip ?? i.hostname).join(','))],
    ['Ports', 'string', (o) => ((o.spec?.tls ?? []).length ? '80, 443' : '80')],
    ['Age', 'string', age],
  ],
  Job: [
    ['Status', 'string', (o) => (condition(o, 'Complete') === 'True' ? 'Complete' : condition(o, 'Failed') === 'True' ? 'Failed' : 'Running')],
    ['Completions', 'string', (o) => `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}`],
    ['Duration', 'string', (o) => (o.status?.startTime ? since(o.status.startTime) : '')],
    ['Age', 'string', age],
  ],
  Lease: [
    ['Holder', 'string', (o) => str(o.spec?.holderIdentity)],
    ['Age', 'string', age],
  ],
}
