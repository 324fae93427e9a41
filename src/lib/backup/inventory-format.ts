/**
 * What `backup list` shows, without AWS: the SDK's answers turned into restorable points, the
 * point-in-time window judged, everything sorted newest first, and the table. Pure (the clock is
 * a parameter), so that it is tested with a fixed one; the SDK types are imported as types only.
 */
import type {DBInstance, DBInstanceAutomatedBackup, DBSnapshot} from '@aws-sdk/client-rds'
import type {RecoveryPointByBackupVault} from '@aws-sdk/client-backup'

export type PointKind = 'snapshot-manual' | 'snapshot-automated' | 'snapshot-awsbackup' | 'recovery-point'
export const SNAPSHOT_TYPES = ['manual', 'automated', 'awsbackup'] as const
export type SnapshotType = (typeof SNAPSHOT_TYPES)[number]

export interface RestorePoint {
  kind: PointKind
  /** The snapshot identifier; for a recovery point, the resource part of its ARN. */
  id: string
  arn: string | null
  /** ISO time; null while AWS has not given one yet (a snapshot still being created). */
  createdAt: string | null
  ageSeconds: number | null
  sizeBytes: number | null
  /** As AWS says it: available/creating/… for snapshots, COMPLETED/PARTIAL/… for recovery points. */
  status: string | null
  /** Whether AWS would restore from it now: an available snapshot, a COMPLETED recovery point. */
  restorable: boolean
  encrypted: boolean | null
  /** Recovery points only. */
  vault?: string
  completedAt?: string | null
  lifecycle?: {deleteAfterDays?: number; moveToColdStorageAfterDays?: number; deleteAt?: string; moveToColdStorageAt?: string}
}

/** Where the earliest restorable time came from, from the most to the least exact. */
export type EarliestSource = 'restore-window' | 'oldest-automated-snapshot' | 'instance-create-time' | null

export interface PitrWindow {
  earliest: string | null
  latest: string | null
  /** How far the latest restorable time is behind now (AWS: typically about 5 minutes). */
  lagSeconds: number | null
  earliestSource: EarliestSource
  /** BackupRetentionPeriod: 0 means automated backups, and so point-in-time restore, are off. */
  retentionDays: number | null
}

export interface BackupInventory {
  environment: string
  instance: string
  instanceArn: string | null
  vault: string | null
  generatedAt: string
  pitr: PitrWindow
  /** Newest first. */
  points: RestorePoint[]
  notes: string[]
}

const GIB = 1024 ** 3
const DAY_MS = 86_400_000

const iso = (d: Date | undefined): string | null => (d && !Number.isNaN(d.getTime()) ? d.toISOString() : null)
const ageOf = (d: Date | undefined, now: Date): number | null => (d && !Number.isNaN(d.getTime()) ? Math.round((now.getTime() - d.getTime()) / 1000) : null)

/** The resource part of an ARN: `snapshot:awsbackup:job-1` gives `awsbackup:job-1`, `recovery-point:abc` gives `abc`. */
export function idFromArn(arn: string): string {
  const resource = arn.split(':').slice(5).join(':')
  const sep = resource.search(/[:/]/)
  return sep > 0 ? resource.slice(sep + 1) : resource
}

export function snapshotPoint(s: DBSnapshot, type: SnapshotType, now: Date): RestorePoint {
  // A snapshot copied from another keeps its original time; the copy's own may be missing while it is made.
  const created = s.SnapshotCreateTime ?? s.OriginalSnapshotCreateTime
  return {
    kind: `snapshot-${type}`,
    id: s.DBSnapshotIdentifier ?? (s.DBSnapshotArn ? idFromArn(s.DBSnapshotArn) : '?'),
    arn: s.DBSnapshotArn ?? null,
    createdAt: iso(created),
    ageSeconds: ageOf(created, now),
    sizeBytes: s.AllocatedStorage === undefined ? null : s.AllocatedStorage * GIB,
    status: s.Status ?? null,
    restorable: s.Status === 'available',
    encrypted: s.Encrypted ?? null,
  }
}

export function recoveryPoint(p: RecoveryPointByBackupVault, now: Date): RestorePoint {
  const arn = p.RecoveryPointArn ?? null
  const lc = {
    ...(p.Lifecycle?.DeleteAfterDays !== undefined ? {deleteAfterDays: p.Lifecycle.DeleteAfterDays} : {}),
    ...(p.Lifecycle?.MoveToColdStorageAfterDays !== undefined ? {moveToColdStorageAfterDays: p.Lifecycle.MoveToColdStorageAfterDays} : {}),
    ...(iso(p.CalculatedLifecycle?.DeleteAt) ? {deleteAt: iso(p.CalculatedLifecycle?.DeleteAt)!} : {}),
    ...(iso(p.CalculatedLifecycle?.MoveToColdStorageAt) ? {moveToColdStorageAt: iso(p.CalculatedLifecycle?.MoveToColdStorageAt)!} : {}),
  }
  return {
    kind: 'recovery-point',
    id: arn ? idFromArn(arn) : '?',
    arn,
    createdAt: iso(p.CreationDate),
    ageSeconds: ageOf(p.CreationDate, now),
    sizeBytes: p.BackupSizeInBytes ?? null,
    status: p.Status ?? null,
    restorable: p.Status === 'COMPLETED',
    encrypted: p.IsEncrypted ?? null,
    ...(p.BackupVaultName ? {vault: p.BackupVaultName} : {}),
    completedAt: iso(p.CompletionDate),
    ...(Object.keys(lc).length ? {lifecycle: lc} : {}),
  }
}

/**
 * The point-in-time window. Latest: the instance's LatestRestorableTime. Earliest, best first: the
 * automated backup's RestoreWindow (what AWS itself says), the oldest automated snapshot (PITR
 * replays logs from it), else the instance's creation — no earlier than the retention allows.
 */
export function pitrWindow(db: DBInstance, automated: DBInstanceAutomatedBackup | undefined, automatedSnapshots: RestorePoint[], now: Date): PitrWindow {
  const retentionDays = db.BackupRetentionPeriod ?? null
  if (retentionDays === 0) return {earliest: null, latest: null, lagSeconds: null, earliestSource: null, retentionDays}
  const latest = db.LatestRestorableTime ?? automated?.RestoreWindow?.LatestTime
  let earliest: Date | undefined
  let earliestSource: EarliestSource = null
  const oldestSnapshot = automatedSnapshots
    .map((p) => p.createdAt)
    .filter((t): t is string => t !== null)
    .sort()[0]
  if (automated?.RestoreWindow?.EarliestTime) {
    earliest = automated.RestoreWindow.EarliestTime
    earliestSource = 'restore-window'
  } else if (oldestSnapshot) {
    earliest = new Date(oldestSnapshot)
    earliestSource = 'oldest-automated-snapshot'
  } else if (db.InstanceCreateTime) {
    const floor = retentionDays === null ? 0 : now.getTime() - retentionDays * DAY_MS
    earliest = new Date(Math.max(db.InstanceCreateTime.getTime(), floor))
    earliestSource = 'instance-create-time'
  }
  return {earliest: iso(earliest), latest: iso(latest), lagSeconds: ageOf(latest, now), earliestSource, retentionDays}
}

const KIND_ORDER: PointKind[] = ['recovery-point', 'snapshot-awsbackup', 'snapshot-manual', 'snapshot-automated']

/** Newest first; points without a time yet (still being made) before all others; ties in a fixed order. */
export function newestFirst(points: RestorePoint[]): RestorePoint[] {
  const t = (p: RestorePoint) => (p.createdAt === null ? Infinity : Date.parse(p.createdAt))
  return [...points].sort((a, b) => t(b) - t(a) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.id.localeCompare(b.id))
}

/** 45s, 12m, 5h3m, 3d4h: two units at most, enough to compare backups at a glance. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-'
  // A clock behind AWS's makes fresh backups look a little in the future.
  if (seconds < 0) return `-${formatAge(-seconds)}`
  const d = Math.floor(seconds / 86_400)
  const h = Math.floor((seconds % 86_400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  if (d) return h ? `${d}d${h}h` : `${d}d`
  if (h) return m ? `${h}h${m}m` : `${h}h`
  if (m) return `${m}m`
  return `${Math.floor(seconds)}s`
}

/** Binary units, as RDS sizes storage (20 GiB). */
export function formatSize(bytes: number | null): string {
  if (bytes === null) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 || v >= 10 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}

/** To the second, in UTC: what people compare with logs. */
export function formatTime(at: string | null): string {
  return at === null ? '-' : at.replace(/\.\d+Z$/, 'Z')
}

/** Long ids keep their start (the kind of backup) and their end (what tells them apart). */
export function shorten(id: string, max = 64): string {
  if (id.length <= max) return id
  const head = Math.ceil((max - 1) / 2)
  return `${id.slice(0, head)}…${id.slice(id.length - (max - 1 - head))}`
}

/** When a lifecycle date falls, from now: "in 4d", or "3h ago" when AWS has not acted on it yet. */
function fromNow(at: string | undefined, days: number | undefined, now: Date): string | undefined {
  if (at) {
    const s = Math.round((Date.parse(at) - now.getTime()) / 1000)
    return s >= 0 ? `in ${formatAge(s)}` : `${formatAge(-s)} ago`
  }
  return days === undefined ? undefined : `${days}d after creation`
}

export function lifecycleText(p: RestorePoint, now: Date): string {
  const lc = p.lifecycle
  if (!lc) return '-'
  const cold = fromNow(lc.moveToColdStorageAt, lc.moveToColdStorageAfterDays, now)
  const del = fromNow(lc.deleteAt, lc.deleteAfterDays, now)
  const parts = [cold && `cold ${cold}`, del && `delete ${del}`].filter(Boolean)
  return parts.length ? parts.join(', ') : '-'
}

const SOURCE_TEXT: Record<Exclude<EarliestSource, null>, string> = {
  'restore-window': "earliest from the automated backup's restore window",
  'oldest-automated-snapshot': 'earliest from the oldest automated snapshot',
  'instance-create-time': "earliest estimated from the instance's creation time and retention",
}

export function pitrLine(pitr: PitrWindow): string {
  if (pitr.retentionDays === 0) return 'PITR window: none (automated backups are off: BackupRetentionPeriod 0)'
  const lag = pitr.lagSeconds === null ? 'no latest restorable time yet' : `latest ${formatAge(pitr.lagSeconds)} behind now`
  const kept = pitr.retentionDays === null ? '' : `; backups kept ${pitr.retentionDays}d`
  return `PITR window: ${formatTime(pitr.earliest)} → ${formatTime(pitr.latest)} (${lag}; ${pitr.earliestSource ? SOURCE_TEXT[pitr.earliestSource] : 'earliest unknown'}${kept})`
}

/** The human view: a heading, the PITR window, one merged table newest first, then notes. */
export function inventoryLines(inv: BackupInventory): string[] {
  const now = new Date(inv.generatedAt)
  const out = [`RDS instance ${inv.instance} (environment ${inv.environment})${inv.vault ? `, backup vault ${inv.vault}` : ''}: what can be restored, newest first`, '']
  out.push(pitrLine(inv.pitr), '')
  if (inv.points.length) {
    const head = ['KIND', 'ID', 'CREATED', 'AGE', 'SIZE', 'STATUS', 'ENCRYPTED', 'LIFECYCLE']
    const rows = inv.points.map((p) => [
      p.kind,
      shorten(p.id),
      formatTime(p.createdAt),
      formatAge(p.ageSeconds),
      formatSize(p.sizeBytes),
      p.status ?? '-',
      p.encrypted === null ? '-' : p.encrypted ? 'yes' : 'no',
      lifecycleText(p, now),
    ])
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (r: string[]) =>
      r
        .map((c, i) => (i === 4 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
        .join('  ')
        .trimEnd()
    out.push(line(head), ...rows.map(line))
    const count = (k: PointKind) => inv.points.filter((p) => p.kind === k).length
    const summary = KIND_ORDER.filter((k) => count(k) > 0).map((k) => `${count(k)} ${k}`)
    out.push('', `${inv.points.length} point(s): ${summary.join(', ')}`)
  } else {
    out.push('No snapshots or recovery points.')
  }
  for (const n of inv.notes) out.push(`Note: ${n}`)
  return out
}

/** Things a reader would otherwise misread: what is missing, what is listed twice, a window that is not one. */
export function inventoryNotes(inv: Omit<BackupInventory, 'notes'>, environmentName: string): string[] {
  const notes: string[] = []
  if (!inv.vault) notes.push(`environment ${environmentName} has no backup.vault (optional): AWS Backup recovery points are not listed.`)
  const vaultArns = new Set(inv.points.filter((p) => p.kind === 'recovery-point' && p.arn).map((p) => p.arn))
  const twice = inv.points.filter((p) => p.kind !== 'recovery-point' && p.arn && vaultArns.has(p.arn)).length
  if (twice) notes.push(`${twice} snapshot(s) are also listed as recovery points of ${inv.vault} (same ARN): one backup, seen from RDS and from AWS Backup.`)
  const {earliest, latest} = inv.pitr
  if (earliest && latest && Date.parse(earliest) > Date.parse(latest)) notes.push('the earliest restorable time is after the latest: there is no point-in-time window yet.')
  return notes
}
