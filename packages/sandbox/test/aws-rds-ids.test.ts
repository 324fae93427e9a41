/**
 * moto gives every DB instance the same DbiResourceId; the front gives each its own and answers
 * the `dbi-resource-id` filter (what the Terraform AWS provider reads an instance back by).
 * Through the real SDK, against moto behind the front.
 */
import {CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient} from '@aws-sdk/client-rds'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dbiResourceId} from '../src/aws-front/rds-ids.js'
import {startSandbox, type Sandbox} from './aws-helpers.js'

let sb: Sandbox
let rds: RDSClient
beforeAll(async () => {
  sb = await startSandbox()
  rds = new RDSClient(sb.client)
  for (const id of ['clipper-a', 'clipper-b']) {
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'clipper',
        MasterUserPassword: 'sandbox-pass',
      }),
    )
  }
}, 60_000)
afterAll(async () => sb?.stop())

describe('RDS resource ids', () => {
  it('are unique per instance, shaped as AWS makes them, and stable', async () => {
    const all = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!
    const ids = Object.fromEntries(all.map((i) => [i.DBInstanceIdentifier!, i.DbiResourceId!]))
    expect(ids['clipper-a']).toMatch(/^db-[A-Z2-7]{26}$/)
    expect(ids['clipper-a']).not.toBe(ids['clipper-b'])
    expect(ids['clipper-a']).toBe(dbiResourceId('clipper-a'))
    const one = (await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: 'clipper-b'}))).DBInstances!
    expect(one[0]!.DbiResourceId).toBe(ids['clipper-b'])
  })

  it('answer the dbi-resource-id filter with exactly the instance, or nothing', async () => {
    const byId = async (v: string) =>
      (await rds.send(new DescribeDBInstancesCommand({Filters: [{Name: 'dbi-resource-id', Values: [v]}]}))).DBInstances!.map((i) => i.DBInstanceIdentifier)
    expect(await byId(dbiResourceId('clipper-b'))).toEqual(['clipper-b'])
    expect(await byId(dbiResourceId('clipper-a'))).toEqual(['clipper-a'])
    expect(await byId('db-AAAAAAAAAAAAAAAAAAAAAAAAAA')).toEqual([])
  })
})
