/**
 * backup list against the sandbox: the PITR window first, then every snapshot of the instance and
 * every recovery point of it in the vault, newest first, with ages and sizes, in the JSON and in
 * the table; read-only; a config without a database is a usage error naming the field, a
 * missing vault a note, a missing instance a failure naming it.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {parse, stringify} from 'yaml'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox()

const GIB = 1024 ** 3
const DAY = 86_400

interface Point {
  kind: 'snapshot-manual' | 'snapshot-automated' | 'snapshot-awsbackup' | 'recovery-point'
  id: string
  arn: string | null
  createdAt: string | null
  ageSeconds: number | null
  sizeBytes: number | null
  status: string | null
  restorable: boolean
  encrypted: boolean | null
  vault?: string
}

interface Inventory {
  environment: string
  instance: string
  vault: string | null
  generatedAt: string
  pitr: {earliest: string | null; latest: string | null; lagSeconds: number | null; earliestSource: string | null; retentionDays: number | null}
  points: Point[]
  notes: string[]
}

async function list(extra: string[] = []): Promise<{code: number | null; inv: Inventory; stderr: string}> {
  const r = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--json', ...extra])
  expect(r.code, r.stderr + r.stdout).toBe(0)
  return {code: r.code, inv: JSON.parse(r.stdout) as Inventory, stderr: r.stderr}
}

/** A config of the sandbox's own, with its sandbox environment changed by `edit`. */
function configWith(file: string, edit: (env: Record<string, any>) => void): string {
  const cfg = parse(readFileSync(sandbox().status.config, 'utf8'))
  edit(cfg.environments.sandbox)
  const path = join(sandbox().cwd, file)
  writeFileSync(path, stringify(cfg))
  return path
}

const ofKind = (inv: Inventory, kind: Point['kind']) => inv.points.filter((p) => p.kind === kind)

describe('backup list', () => {
  test('JSON: the PITR window, then snapshots and recovery points newest first, with ages and sizes; read-only', async () => {
    const since = new Date().toISOString()
    const {inv} = await list()
    expect(inv).toMatchObject({environment: 'sandbox', instance: 'clipper-sandbox', vault: 'clipper-sandbox-vault'})

    // The window: the latest restorable time as RDS says it (AWS: ~5 minutes behind; the sandbox:
    // its archiver's last archived WAL), a lag measured from the same moment as the ages.
    expect(inv.pitr.latest).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(inv.pitr.earliest).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(['restore-window', 'oldest-automated-snapshot', 'instance-create-time']).toContain(inv.pitr.earliestSource)
    expect(inv.pitr.retentionDays).toBe(7)
    expect(inv.pitr.lagSeconds).toBeGreaterThanOrEqual(0)
    expect(inv.pitr.lagSeconds).toBeLessThan(600)
    expect(inv.pitr.lagSeconds).toBe(Math.round((Date.parse(inv.generatedAt) - Date.parse(inv.pitr.latest!)) / 1000))

    // Newest first, every age measured from the same moment.
    const times = inv.points.map((p) => Date.parse(p.createdAt!))
    expect(times).toEqual([...times].sort((a, b) => b - a))
    for (const p of inv.points) {
      expect(p.ageSeconds, p.id).toBe(Math.round((Date.parse(inv.generatedAt) - Date.parse(p.createdAt!)) / 1000))
      expect(p.arn, p.id).toMatch(/^arn:aws:/)
    }

    const manual = ofKind(inv, 'snapshot-manual').find((p) => p.id === 'clipper-sandbox-before-cutover')
    expect(manual).toMatchObject({sizeBytes: 20 * GIB, status: 'available', restorable: true, encrypted: true})
    expect(manual!.ageSeconds).toBeGreaterThanOrEqual(0)
    expect(manual!.ageSeconds).toBeLessThan(600)

    // The seed's four recovery points: 3, 2 and 1 days old, and one of 5 minutes (listed newest first).
    const points = ofKind(inv, 'recovery-point')
    expect(points).toHaveLength(4)
    const ages = points.map((p) => p.ageSeconds!)
    for (const [i, want] of [300, DAY, 2 * DAY, 3 * DAY].entries()) {
      expect(ages[i]).toBeGreaterThanOrEqual(want)
      expect(ages[i]).toBeLessThan(want + 600)
    }
    for (const p of points) expect(p).toMatchObject({sizeBytes: 20 * GIB, status: 'COMPLETED', restorable: true, vault: 'clipper-sandbox-vault'})

    // Automated snapshots: RDS takes one when the instance is made, and keeps them for the retention period.
    expect(ofKind(inv, 'snapshot-automated').length).toBeGreaterThanOrEqual(1)
    for (const p of ofKind(inv, 'snapshot-automated')) expect(p).toMatchObject({sizeBytes: 20 * GIB, status: 'available'})

    expect((await sandbox().requests(since, true)).map((r) => `${r.service} ${r.operation}`)).toEqual([])
  })

  test('the table: the PITR window first, then one row per point, newest first, with age, size and status', async () => {
    const {inv} = await list()
    const r = await sandbox().cli(['backup', 'list', '--env', 'sandbox'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    const pitr = lines.findIndex((l) => l.startsWith('PITR window: '))
    const head = lines.findIndex((l) => /^KIND\s+ID\s+CREATED\s+AGE\s+SIZE\s+STATUS/.test(l))
    expect(pitr).toBeGreaterThanOrEqual(0)
    expect(head).toBeGreaterThan(pitr)
    expect(lines[pitr]).toMatch(/^PITR window: \S+Z → \S+Z \(latest (\d+[smhd])+ behind now; earliest from /)

    const rows = lines.slice(head + 1, lines.indexOf('', head)).map((l) => l.split(/\s{2,}/))
    expect(rows.map((c) => c[1])).toEqual(inv.points.map((p) => p.id))
    expect(rows.map((c) => c[0])).toEqual(inv.points.map((p) => p.kind))
    expect(rows.find((c) => c[1] === 'clipper-sandbox-before-cutover')).toEqual(expect.arrayContaining(['snapshot-manual', '20 GiB', 'available']))
    const points = rows.filter((c) => c[0] === 'recovery-point')
    expect(points.map((c) => c[3])).toEqual(['5m', '1d', '2d', '3d'].map((a, i) => (i === 0 ? expect.stringMatching(/^\d+m$/) : a)))
    for (const c of points) expect(c).toEqual(expect.arrayContaining(['20 GiB', 'COMPLETED']))
  })

  // The sandbox lists AWS Backup's snapshots as SnapshotType awsbackup, as AWS does: each recovery
  // point of an RDS instance is an RDS snapshot of type awsbackup with the same ARN.
  test('the snapshots AWS Backup made are listed as snapshot-awsbackup, one per recovery point', async () => {
    const {inv} = await list()
    const points = ofKind(inv, 'recovery-point')
    // Beside the sandbox's scheduled cross-region copy sources (clipper-sandbox-copy-*), made every minute.
    expect
      .soft(
        ofKind(inv, 'snapshot-manual')
          .map((p) => p.id)
          .filter((id) => !id.startsWith('clipper-sandbox-copy-')),
      )
      .toEqual(['clipper-sandbox-before-cutover'])
    expect.soft(ofKind(inv, 'snapshot-awsbackup')).toHaveLength(4)
    expect.soft(new Set(ofKind(inv, 'snapshot-awsbackup').map((p) => p.arn))).toEqual(new Set(points.map((p) => p.arn)))
    for (const p of ofKind(inv, 'snapshot-awsbackup')) expect.soft(p).toMatchObject({sizeBytes: 20 * GIB, status: 'available', restorable: true})
    const t = await sandbox().cli(['backup', 'list', '--env', 'sandbox'])
    expect.soft(t.stdout.split('\n').filter((l) => l.startsWith('snapshot-awsbackup '))).toHaveLength(4)
  })

  // On AWS a recovery point and its snapshot are one backup, taken at one time; the sandbox dates
  // the snapshots behind its (backdated) seeded points as the points are.
  test('an AWS Backup snapshot and its recovery point are listed with the same creation time', async () => {
    const {inv} = await list()
    const byArn = new Map(ofKind(inv, 'recovery-point').map((p) => [p.arn, p]))
    for (const s of ofKind(inv, 'snapshot-awsbackup')) {
      const rp = byArn.get(s.arn)
      expect.soft(rp, s.id).toBeDefined()
      if (rp) expect.soft(Math.abs(Date.parse(s.createdAt!) - Date.parse(rp.createdAt!)), s.id).toBeLessThan(3_600_000)
    }
  })

  // On AWS a window runs from earliest to latest; the sandbox dates its automated snapshot as the
  // first base backup behind it, so the window is never inverted, even right after `sandbox up`.
  test('the PITR window runs from the earliest restorable time to the latest', async () => {
    const {inv} = await list()
    expect.soft(Date.parse(inv.pitr.earliest!)).toBeLessThanOrEqual(Date.parse(inv.pitr.latest!))
    expect.soft(inv.notes.join('\n')).not.toContain('no point-in-time window')
  })

  test('an environment without database.rdsInstance: exit 2 naming the field, before any AWS call', async () => {
    const config = configWith('no-database.yaml', (env) => delete env.database)
    const since = new Date().toISOString()
    const r = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('database.rdsInstance')
    expect(r.stderr).toContain('backup.vault is optional')
    expect(r.stdout).toBe('')
    const j = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config, '--json'])
    expect(j.code).toBe(2)
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'NO_DATABASE', exitCode: 2, message: expect.stringContaining('database.rdsInstance')})
    expect(await sandbox().requests(since)).toEqual([])
  })

  test('without backup.vault: the snapshots, no recovery points, and a note that says so', async () => {
    const config = configWith('no-vault.yaml', (env) => delete env.backup)
    const j = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config, '--json'])
    expect(j.code, j.stderr).toBe(0)
    const inv = JSON.parse(j.stdout) as Inventory
    expect(inv.vault).toBeNull()
    expect(ofKind(inv, 'recovery-point')).toEqual([])
    expect(inv.points.map((p) => p.id)).toContain('clipper-sandbox-before-cutover')
    expect(inv.notes.join('\n')).toContain('no backup.vault')
    const t = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config])
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).toMatch(/^Note: .*no backup\.vault.*recovery points are not listed/m)
    expect(t.stdout).not.toMatch(/^recovery-point/m)
  })

  test('an instance that does not exist: exit 1 with the AWS error and the instance id', async () => {
    const config = configWith('no-instance.yaml', (env) => (env.database.rdsInstance = 'clipper-nowhere'))
    const r = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/DBInstanceNotFound/)
    expect(r.stderr).toContain('clipper-nowhere')
    const j = await sandbox().cli(['backup', 'list', '--env', 'sandbox', '--config', config, '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'NOT_FOUND', exitCode: 1, message: expect.stringMatching(/clipper-nowhere.*DBInstanceNotFound/)})
  })
})
