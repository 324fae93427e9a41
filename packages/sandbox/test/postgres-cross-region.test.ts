/**
 * A region-wide recovery in the sandbox: copies of the RDS instance's snapshots in the secondary
 * region (us-west-2), made as AWS makes them (CopyDBSnapshot sent to the destination with the
 * source's ARN), kept fresh by a copy schedule while the sandbox runs, and restorable there into a
 * real PostgreSQL whose data ends when the copied snapshot was taken. All through the real SDK
 * clients against the sandbox's front.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {DescribeSecurityGroupsCommand, EC2Client} from '@aws-sdk/client-ec2'
import {
  CopyDBSnapshotCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  type DBInstance,
  type DBSnapshot,
} from '@aws-sdk/client-rds'
import {execa} from 'execa'
import pg from 'pg'
import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {processesMentioning, useSandbox} from '../../../test/helpers/sandbox.js'
import {until} from './aws-helpers.js'

// The copy schedule's interval for this sandbox (sandbox up --snapshot-copy-interval, by its env var).
const EVERY_S = 3
const previousInterval = process.env.CLIPPER_OPS_SANDBOX_SNAPSHOT_COPY_INTERVAL
process.env.CLIPPER_OPS_SANDBOX_SNAPSHOT_COPY_INTERVAL = String(EVERY_S)

const sandbox = useSandbox()
const DB = 'clipper-sandbox'
const WEST = 'us-west-2'
const SCHEDULED = /^clipper-sandbox-copy-\d{8}-\d{6}$/
const SCHEDULED_COPY = /^clipper-sandbox-copy-\d{8}-\d{6}-west$/

let east: RDSClient
let west: RDSClient
let ec2West: EC2Client
let password: string
let drRegion: {name: string; subnetGroup: string; securityGroups: string[]; parameterGroup?: string}
let dataRoot: string

beforeAll(async () => {
  const sb = sandbox()
  const client = {endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}}
  east = new RDSClient({...client, region: sb.status.region})
  west = new RDSClient({...client, region: WEST})
  ec2West = new EC2Client({...client, region: WEST})
  const cfg = parse(readFileSync(sb.status.config, 'utf8'))
  password = new URL(cfg.environments.sandbox.tools.env.CLIPPER_SANDBOX_DATABASE_URL).password
  drRegion = cfg.environments.sandbox.dr.region
  dataRoot = JSON.parse((await sb.cli(['sandbox', 'status', '--json'])).stdout).postgres.dataRoot
})
afterAll(() => {
  east?.destroy()
  west?.destroy()
  ec2West?.destroy()
  if (previousInterval === undefined) delete process.env.CLIPPER_OPS_SANDBOX_SNAPSHOT_COPY_INTERVAL
  else process.env.CLIPPER_OPS_SANDBOX_SNAPSHOT_COPY_INTERVAL = previousInterval
})

const snapshot = async (rds: RDSClient, id: string): Promise<DBSnapshot> => (await rds.send(new DescribeDBSnapshotsCommand({DBSnapshotIdentifier: id}))).DBSnapshots![0]!
const snapshotsOf = async (rds: RDSClient): Promise<DBSnapshot[]> => (await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: DB}))).DBSnapshots!
const instance = async (rds: RDSClient, id: string): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: id}))).DBInstances![0]!

async function newestView(db: DBInstance): Promise<Date> {
  const client = new pg.Client({host: db.Endpoint!.Address, port: db.Endpoint!.Port, user: db.MasterUsername, password, database: 'clipper'})
  await client.connect()
  try {
    return (await client.query<{t: Date}>('select max(viewed_at) as t from clip_views')).rows[0]!.t
  } finally {
    await client.end()
  }
}

describe('the secondary region', () => {
  test('is seeded with a network for the database, named in the config as dr.region', async () => {
    expect(drRegion).toEqual({
      name: WEST,
      subnetGroup: 'clipper-sandbox-db-west',
      securityGroups: [expect.stringMatching(/^sg-[0-9a-f]+$/)],
      parameterGroup: 'clipper-sandbox-pg16-west',
    })
    const group = (await west.send(new DescribeDBSubnetGroupsCommand({DBSubnetGroupName: 'clipper-sandbox-db-west'}))).DBSubnetGroups![0]!
    expect(group.Subnets!.map((s) => s.SubnetAvailabilityZone?.Name).sort()).toEqual(['us-west-2a', 'us-west-2b'])
    const sg = (await ec2West.send(new DescribeSecurityGroupsCommand({GroupIds: drRegion.securityGroups}))).SecurityGroups![0]!
    expect(sg).toMatchObject({GroupName: 'clipper-sandbox-db-west', VpcId: group.VpcId})
    const params = (await west.send(new DescribeDBParameterGroupsCommand({DBParameterGroupName: 'clipper-sandbox-pg16-west'}))).DBParameterGroups![0]!
    expect(params.DBParameterGroupFamily).toBe('postgres16')
    // moto keeps regions apart: none of it is in us-east-1.
    await expect(east.send(new DescribeDBSubnetGroupsCommand({DBSubnetGroupName: 'clipper-sandbox-db-west'}))).rejects.toMatchObject({name: 'DBSubnetGroupNotFoundFault'})
  })

  test('holds a copy of the seeded manual snapshot, as a cross-region copy: from us-east-1, dated as its source', async () => {
    const source = await snapshot(east, 'clipper-sandbox-before-cutover')
    const copy = await until(
      'the seeded copy to be available',
      () => snapshot(west, 'clipper-sandbox-before-cutover-west'),
      (s) => s.Status === 'available',
    )
    expect(copy).toMatchObject({
      DBInstanceIdentifier: DB,
      SnapshotType: 'manual',
      SourceRegion: 'us-east-1',
      SourceDBSnapshotIdentifier: source.DBSnapshotArn,
      SnapshotCreateTime: source.SnapshotCreateTime,
      DBSnapshotArn: expect.stringMatching(/^arn:aws:rds:us-west-2:\d{12}:snapshot:clipper-sandbox-before-cutover-west$/),
    })
    // Listed among the instance's snapshots there, as a drill looks for them.
    expect((await snapshotsOf(west)).map((s) => s.DBSnapshotIdentifier)).toContain('clipper-sandbox-before-cutover-west')
  })

  test('CopyDBSnapshot sent to us-west-2 with a us-east-1 ARN makes a copy that is creating, then available; a copy still creating cannot be copied', async () => {
    await east.send(new CreateDBSnapshotCommand({DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'xr-source'}))
    const source = await until(
      'the source snapshot',
      () => snapshot(east, 'xr-source'),
      (s) => s.Status !== 'creating',
    )
    expect(source.Status).toBe('available')
    // The SDK for JavaScript sends the source's ARN alone (its input has no SourceRegion); the AWS CLI's --source-region adds a PreSignedUrl.
    const out = await west.send(new CopyDBSnapshotCommand({SourceDBSnapshotIdentifier: source.DBSnapshotArn, TargetDBSnapshotIdentifier: 'xr-copy'}))
    expect(out.DBSnapshot).toMatchObject({Status: 'creating', SourceRegion: 'us-east-1', SourceDBSnapshotIdentifier: source.DBSnapshotArn, DBInstanceIdentifier: DB})
    await expect(west.send(new CopyDBSnapshotCommand({SourceDBSnapshotIdentifier: 'xr-copy', TargetDBSnapshotIdentifier: 'xr-copy-of-copy'}))).rejects.toMatchObject({
      name: 'InvalidDBSnapshotStateFault',
    })
    const copy = await until(
      'the copy',
      () => snapshot(west, 'xr-copy'),
      (s) => s.Status !== 'creating',
    )
    expect(copy).toMatchObject({Status: 'available', SnapshotType: 'manual', SnapshotCreateTime: source.SnapshotCreateTime})
    const sb = sandbox()
    const cli = await execa(
      'aws',
      [
        'rds',
        'copy-db-snapshot',
        '--region',
        WEST,
        '--source-region',
        'us-east-1',
        '--source-db-snapshot-identifier',
        source.DBSnapshotArn!,
        '--target-db-snapshot-identifier',
        'xr-copy-cli',
      ],
      {env: {...sb.toolEnv(), AWS_ENDPOINT_URL: sb.status.awsEndpoint, AWS_PAGER: ''}},
    )
    expect(JSON.parse(cli.stdout).DBSnapshot).toMatchObject({Status: 'creating', SourceRegion: 'us-east-1', SourceDBSnapshotIdentifier: source.DBSnapshotArn})
  })
})

describe('copies kept fresh while the sandbox runs, restorable in us-west-2', () => {
  let newest: DBSnapshot
  let restored: DBInstance

  test(`a snapshot every ${EVERY_S}s in us-east-1, copied to us-west-2`, async () => {
    const copies = await until(
      'a scheduled copy available in us-west-2',
      async () => (await snapshotsOf(west)).filter((s) => SCHEDULED_COPY.test(s.DBSnapshotIdentifier!)),
      (l) => l.some((s) => s.Status === 'available'),
    )
    newest = copies.filter((s) => s.Status === 'available').sort((a, b) => b.SnapshotCreateTime!.getTime() - a.SnapshotCreateTime!.getTime())[0]!
    const sourceId = newest.DBSnapshotIdentifier!.replace(/-west$/, '')
    expect(sourceId).toMatch(SCHEDULED)
    const source = await snapshot(east, sourceId)
    expect(source).toMatchObject({Status: 'available', SnapshotType: 'manual', DBInstanceIdentifier: DB})
    expect(newest).toMatchObject({
      SourceRegion: 'us-east-1',
      SourceDBSnapshotIdentifier: source.DBSnapshotArn,
      SnapshotType: 'manual',
      SnapshotCreateTime: source.SnapshotCreateTime,
    })
    // The schedule's calls are AWS's own: none of them is in the request log.
    const sb = sandbox()
    expect((await sb.requests(undefined, true)).filter((r) => r.operation === 'CopyDBSnapshot' && r.status < 300)).toHaveLength(2) // the test's own
  })

  test('RestoreDBInstanceFromDBSnapshot in us-west-2 from the newest copy: creating, then available on 127.0.0.1, with the data of when the copied snapshot was taken', async () => {
    // The primary's own name, in the other region: a different instance.
    const t0 = Date.now()
    const out = await west.send(
      new RestoreDBInstanceFromDBSnapshotCommand({
        DBSnapshotIdentifier: newest.DBSnapshotIdentifier,
        DBInstanceIdentifier: DB,
        DBSubnetGroupName: drRegion.subnetGroup,
        VpcSecurityGroupIds: drRegion.securityGroups,
        DBParameterGroupName: drRegion.parameterGroup,
      }),
    )
    expect(out.DBInstance?.DBInstanceStatus).toBe('creating')
    expect(out.DBInstance?.Endpoint).toBeUndefined()
    restored = await until(
      'the restored instance',
      () => instance(west, DB),
      (d) => d.DBInstanceStatus !== 'creating',
    )
    const took = Date.now() - t0
    const primary = await instance(east, DB)
    expect(restored).toMatchObject({
      DBInstanceStatus: 'available',
      DBInstanceArn: expect.stringMatching(/^arn:aws:rds:us-west-2:/),
      AvailabilityZone: expect.stringMatching(/^us-west-2/),
      DBSubnetGroup: {DBSubnetGroupName: 'clipper-sandbox-db-west'},
      DBParameterGroups: [{DBParameterGroupName: 'clipper-sandbox-pg16-west'}],
      VpcSecurityGroups: drRegion.securityGroups.map((id) => expect.objectContaining({VpcSecurityGroupId: id})),
    })
    expect(restored.Endpoint?.Address).toBe('127.0.0.1')
    expect(restored.Endpoint?.Port).not.toBe(primary.Endpoint!.Port)
    expect(restored.DbiResourceId).not.toBe(primary.DbiResourceId)
    // The region RPO, from the data: the copy holds the views up to when its snapshot was taken.
    const taken = newest.SnapshotCreateTime!.getTime()
    const newestView_ = (await newestView(restored)).getTime()
    expect(Math.abs(newestView_ - taken)).toBeLessThan(EVERY_S * 1000)
    expect((await newestView(primary)).getTime()).toBeGreaterThan(newestView_)
    console.log(`restored in us-west-2 in ${took}ms; newest view ${newestView_ - taken}ms from the copy's time, ${Date.now() - newestView_}ms before now`)
  })

  test('the schedule keeps the newest 3 snapshots and copies, and removes the rest with their base backups', async () => {
    const first = newest.DBSnapshotIdentifier!
    const copies = await until(
      `${first} to be pruned`,
      async () => (await snapshotsOf(west)).map((s) => s.DBSnapshotIdentifier!).filter((id) => SCHEDULED_COPY.test(id)),
      (ids) => !ids.includes(first),
      EVERY_S * 4 * 1000 + 15_000,
    )
    expect(copies.length).toBeLessThanOrEqual(3)
    expect((await snapshotsOf(east)).filter((s) => SCHEDULED.test(s.DBSnapshotIdentifier!)).length).toBeLessThanOrEqual(4) // 3, and one being taken
    const backups = join(dataRoot, 'backups')
    expect(existsSync(backups)).toBe(true)
    const status = JSON.parse((await sandbox().cli(['sandbox', 'status', '--json'])).stdout)
    // The first, the seeded snapshot's, xr-source's, and the kept ones (one more while one is taken).
    expect(status.postgres.baseBackups).toBeLessThanOrEqual(3 + 4)
    // The restored instance had its own copy of the data: it still answers.
    expect((await newestView(restored)).getTime()).toBeGreaterThan(0)
  })

  test('DeleteDBInstance in us-west-2 stops that server and removes its data; the primary of the same name is untouched', async () => {
    const dir = join(dataRoot, 'instances', `${WEST}--${DB}`)
    expect(existsSync(dir)).toBe(true)
    expect(processesMentioning(dir)).not.toEqual([])
    await west.send(new DeleteDBInstanceCommand({DBInstanceIdentifier: DB, SkipFinalSnapshot: true}))
    expect(processesMentioning(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
    await expect(instance(west, DB)).rejects.toMatchObject({name: 'DBInstanceNotFoundFault'})
    const primary = await instance(east, DB)
    expect(primary.DBInstanceStatus).toBe('available')
    expect((await newestView(primary)).getTime()).toBeGreaterThan(Date.now() - 10_000)
  })
})
