/**
 * What backup list makes of AWS's answers, with a fixed clock: ages, sizes, ids from ARNs, the
 * PITR window's sources in order of exactness, newest-first order, lifecycle, and the table.
 */
import {describe, expect, test} from 'vitest'
import {
  formatAge,
  formatSize,
  idFromArn,
  inventoryLines,
  inventoryNotes,
  lifecycleText,
  newestFirst,
  pitrWindow,
  recoveryPoint,
  shorten,
  snapshotPoint,
  type BackupInventory,
} from '../../src/lib/backup/inventory-format.js'

const NOW = new Date('2026-03-10T12:00:00Z')
const ago = (s: number) => new Date(NOW.getTime() - s * 1000)
const GIB = 1024 ** 3

describe('backup inventory', () => {
  test('ages: two units at most; negative (a clock behind AWS) is signed; unknown is a dash', () => {
    expect([0, 45, 60, 300, 3600, 3660, 86_400, 86_400 + 7200 + 59, 30 * 86_400].map(formatAge)).toEqual(['0s', '45s', '1m', '5m', '1h', '1h1m', '1d', '1d2h', '30d'])
    expect(formatAge(-12)).toBe('-12s')
    expect(formatAge(null)).toBe('-')
  })

  test('sizes in binary units, as RDS allocates storage', () => {
    expect([0, 512, 1536, 20 * GIB, 1.5 * GIB, 2048 * GIB].map(formatSize)).toEqual(['0 B', '512 B', '1.5 KiB', '20 GiB', '1.5 GiB', '2 TiB'])
    expect(formatSize(null)).toBe('-')
  })

  test('ids from ARNs keep what tells them apart; long ids are shortened in the middle', () => {
    expect(idFromArn('arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-1a2b')).toBe('awsbackup:job-1a2b')
    expect(idFromArn('arn:aws:backup:us-east-1:123456789012:recovery-point:continuous:db-abc-1234')).toBe('continuous:db-abc-1234')
    expect(idFromArn('arn:aws:ec2:us-east-1::image/ami-0123')).toBe('ami-0123')
    const long = `awsbackup:job-${'a'.repeat(40)}-end`
    expect(shorten(long, 20)).toBe('awsbackup:…aaaaa-end')
    expect(shorten('short', 20)).toBe('short')
  })

  test('snapshots and recovery points: age from the fixed clock, size in bytes, restorable only when AWS would restore', () => {
    const s = snapshotPoint(
      {
        DBSnapshotIdentifier: 'before',
        DBSnapshotArn: 'arn:aws:rds:us-east-1:1:snapshot:before',
        SnapshotCreateTime: ago(3600),
        AllocatedStorage: 20,
        Status: 'available',
        Encrypted: true,
      },
      'manual',
      NOW,
    )
    expect(s).toEqual({
      kind: 'snapshot-manual',
      id: 'before',
      arn: 'arn:aws:rds:us-east-1:1:snapshot:before',
      createdAt: ago(3600).toISOString(),
      ageSeconds: 3600,
      sizeBytes: 20 * GIB,
      status: 'available',
      restorable: true,
      encrypted: true,
    })
    const creating = snapshotPoint({DBSnapshotIdentifier: 'making', Status: 'creating'}, 'automated', NOW)
    expect(creating).toMatchObject({kind: 'snapshot-automated', createdAt: null, ageSeconds: null, sizeBytes: null, restorable: false})

    const rp = recoveryPoint(
      {
        RecoveryPointArn: 'arn:aws:rds:us-east-1:1:snapshot:awsbackup:job-9',
        BackupVaultName: 'v',
        CreationDate: ago(2 * 86_400),
        CompletionDate: ago(2 * 86_400 - 60),
        BackupSizeInBytes: 5 * GIB,
        Status: 'COMPLETED',
        IsEncrypted: true,
        Lifecycle: {DeleteAfterDays: 7, MoveToColdStorageAfterDays: 1},
        CalculatedLifecycle: {DeleteAt: new Date(NOW.getTime() + 5 * 86_400_000), MoveToColdStorageAt: ago(86_400)},
      },
      NOW,
    )
    expect(rp).toMatchObject({kind: 'recovery-point', id: 'awsbackup:job-9', ageSeconds: 2 * 86_400, sizeBytes: 5 * GIB, restorable: true, vault: 'v'})
    expect(rp.lifecycle).toEqual({deleteAfterDays: 7, moveToColdStorageAfterDays: 1, deleteAt: '2026-03-15T12:00:00.000Z', moveToColdStorageAt: ago(86_400).toISOString()})
    expect(lifecycleText(rp, NOW)).toBe('cold 1d ago, delete in 5d')
    expect(lifecycleText(recoveryPoint({RecoveryPointArn: 'arn:aws:backup:r:1:recovery-point:x', Lifecycle: {DeleteAfterDays: 35}}, NOW), NOW)).toBe('delete 35d after creation')
    expect(recoveryPoint({RecoveryPointArn: 'arn:aws:backup:r:1:recovery-point:x', Status: 'PARTIAL'}, NOW).restorable).toBe(false)
  })

  test('newest first; a point without a time yet (still being made) comes before all; ties in a fixed order', () => {
    const p = (kind: 'snapshot-manual' | 'recovery-point' | 'snapshot-automated', id: string, s: number | null) => ({
      kind,
      id,
      arn: null,
      createdAt: s === null ? null : ago(s).toISOString(),
      ageSeconds: s,
      sizeBytes: null,
      status: null,
      restorable: true,
      encrypted: null,
    })
    const sorted = newestFirst([
      p('snapshot-manual', 'old', 86_400),
      p('snapshot-automated', 'tie-b', 60),
      p('recovery-point', 'tie-a', 60),
      p('snapshot-manual', 'new', 5),
      p('snapshot-manual', 'making', null),
    ])
    expect(sorted.map((x) => x.id)).toEqual(['making', 'new', 'tie-a', 'tie-b', 'old'])
  })

  test("the PITR window: AWS's restore window first, then the oldest automated snapshot, then the instance's creation within retention", () => {
    const db = {LatestRestorableTime: ago(300), BackupRetentionPeriod: 7, InstanceCreateTime: ago(30 * 86_400)}
    const autoSnaps = [snapshotPoint({SnapshotCreateTime: ago(86_400)}, 'automated', NOW), snapshotPoint({SnapshotCreateTime: ago(3 * 86_400)}, 'automated', NOW)]
    const withWindow = pitrWindow(db, {RestoreWindow: {EarliestTime: ago(6 * 86_400), LatestTime: ago(400)}}, autoSnaps, NOW)
    expect(withWindow).toEqual({earliest: ago(6 * 86_400).toISOString(), latest: ago(300).toISOString(), lagSeconds: 300, earliestSource: 'restore-window', retentionDays: 7})
    expect(pitrWindow(db, {Status: 'active'}, autoSnaps, NOW)).toMatchObject({earliest: ago(3 * 86_400).toISOString(), earliestSource: 'oldest-automated-snapshot'})
    // Created 30 days ago but backups kept 7: no earlier than 7 days ago.
    expect(pitrWindow(db, undefined, [], NOW)).toMatchObject({earliest: ago(7 * 86_400).toISOString(), earliestSource: 'instance-create-time'})
    expect(pitrWindow({...db, InstanceCreateTime: ago(3600)}, undefined, [], NOW)).toMatchObject({earliest: ago(3600).toISOString()})
    // No LatestRestorableTime on the instance: the restore window's latest.
    expect(pitrWindow({BackupRetentionPeriod: 7}, {RestoreWindow: {LatestTime: ago(400)}}, [], NOW)).toMatchObject({
      latest: ago(400).toISOString(),
      lagSeconds: 400,
      earliestSource: null,
    })
    expect(pitrWindow({...db, BackupRetentionPeriod: 0}, undefined, autoSnaps, NOW)).toEqual({
      earliest: null,
      latest: null,
      lagSeconds: null,
      earliestSource: null,
      retentionDays: 0,
    })
  })

  test('the table: heading, the PITR window on one line before the rows, rows newest first, then counts and notes', () => {
    const points = newestFirst([
      snapshotPoint(
        {
          DBSnapshotIdentifier: 'before-cutover',
          DBSnapshotArn: 'arn:aws:rds:r:1:snapshot:before-cutover',
          SnapshotCreateTime: ago(7200),
          AllocatedStorage: 20,
          Status: 'available',
          Encrypted: true,
        },
        'manual',
        NOW,
      ),
      snapshotPoint(
        {
          DBSnapshotIdentifier: 'awsbackup:job-1',
          DBSnapshotArn: 'arn:aws:rds:r:1:snapshot:awsbackup:job-1',
          SnapshotCreateTime: ago(86_400),
          AllocatedStorage: 20,
          Status: 'available',
        },
        'awsbackup',
        NOW,
      ),
      recoveryPoint(
        {RecoveryPointArn: 'arn:aws:rds:r:1:snapshot:awsbackup:job-1', CreationDate: ago(86_400), BackupSizeInBytes: 20 * GIB, Status: 'COMPLETED', IsEncrypted: false},
        NOW,
      ),
    ])
    const base = {
      environment: 'prod',
      instance: 'db1',
      instanceArn: 'arn:aws:rds:r:1:db:db1',
      vault: 'vault1',
      generatedAt: NOW.toISOString(),
      pitr: pitrWindow({LatestRestorableTime: ago(290), BackupRetentionPeriod: 7}, {RestoreWindow: {EarliestTime: ago(7 * 86_400)}}, [], NOW),
      points,
    }
    const inv: BackupInventory = {...base, notes: inventoryNotes(base, 'prod')}
    expect(inv.notes).toEqual(['1 snapshot(s) are also listed as recovery points of vault1 (same ARN): one backup, seen from RDS and from AWS Backup.'])
    expect(inventoryLines(inv)).toEqual([
      'RDS instance db1 (environment prod), backup vault vault1: what can be restored, newest first',
      '',
      "PITR window: 2026-03-03T12:00:00Z → 2026-03-10T11:55:10Z (latest 4m behind now; earliest from the automated backup's restore window; backups kept 7d)",
      '',
      'KIND                ID               CREATED               AGE    SIZE  STATUS     ENCRYPTED  LIFECYCLE',
      'snapshot-manual     before-cutover   2026-03-10T10:00:00Z  2h   20 GiB  available  yes        -',
      'recovery-point      awsbackup:job-1  2026-03-09T12:00:00Z  1d   20 GiB  COMPLETED  no         -',
      'snapshot-awsbackup  awsbackup:job-1  2026-03-09T12:00:00Z  1d   20 GiB  available  -          -',
      '',
      '3 point(s): 1 recovery-point, 1 snapshot-awsbackup, 1 snapshot-manual',
      'Note: 1 snapshot(s) are also listed as recovery points of vault1 (same ARN): one backup, seen from RDS and from AWS Backup.',
    ])
  })

  test('notes: no vault configured; a window whose earliest is after its latest', () => {
    const base = {
      environment: 'e',
      instance: 'db1',
      instanceArn: null,
      vault: null,
      generatedAt: NOW.toISOString(),
      pitr: {earliest: ago(60).toISOString(), latest: ago(300).toISOString(), lagSeconds: 300, earliestSource: 'oldest-automated-snapshot' as const, retentionDays: 1},
      points: [],
    }
    expect(inventoryNotes(base, 'e')).toEqual([
      'environment e has no backup.vault (optional): AWS Backup recovery points are not listed.',
      'the earliest restorable time is after the latest: there is no point-in-time window yet.',
    ])
    expect(inventoryLines({...base, notes: []})).toContain('No snapshots or recovery points.')
  })
})
