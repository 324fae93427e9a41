/**
 * moto 5.2.1 gives every DB instance the same DbiResourceId (a constant in its models), so with
 * two instances — the running platform's and the one `provision --env sandbox-next` makes — a
 * lookup by resource id finds both, and the Terraform AWS provider, which reads an instance back
 * by `dbi-resource-id`, fails with "couldn't find resource". AWS's ids are unique per instance:
 * the front gives each one its own (derived from its identifier, so stable), and answers the
 * `dbi-resource-id` filter with them.
 */
import {createHash} from 'node:crypto'
import {DescribeDBInstancesCommand} from '@aws-sdk/client-rds'
import type {MotoClients} from './moto-clients.js'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/**
 * An id shaped like AWS's (`db-` and 26 base32 characters), stable for an identifier in a region.
 * (us-east-1's are as they were before instances were told apart by region.)
 */
export function dbiResourceId(identifier: string, region = 'us-east-1'): string {
  const bytes = createHash('sha256')
    .update(region === 'us-east-1' ? `dbi:${identifier}` : `dbi:${region}:${identifier}`)
    .digest()
  let out = ''
  for (let i = 0; i < 26; i++) out += BASE32[bytes[i]! % 32]
  return `db-${out}`
}

/** Each <DBInstance> of an answer with its own DbiResourceId. */
export function uniqueDbiResourceIds(xml: string): string {
  return xml.replace(/<DBInstance>[\s\S]*?<\/DBInstance>/g, (block) => {
    const id = /<DBInstanceIdentifier>([^<]+)<\/DBInstanceIdentifier>/.exec(block)?.[1]
    // One identifier can be taken in two regions (a restore in the secondary one): the ARN says which.
    const region = /<DBInstanceArn>arn:[^:]*:rds:([^:]+):/.exec(block)?.[1]
    return id ? block.replace(/<DbiResourceId>[^<]*<\/DbiResourceId>/, `<DbiResourceId>${dbiResourceId(id, region)}</DbiResourceId>`) : block
  })
}

/**
 * A DescribeDBInstances request filtered by `dbi-resource-id`, turned into the same filter by
 * `db-instance-id` (the instances whose derived id matches), which moto answers correctly.
 */
export async function translateResourceIdFilter(body: Buffer, region: string, moto: MotoClients): Promise<Buffer> {
  const form = new URLSearchParams(body.toString('utf8'))
  const filters = [...form.keys()].filter((k) => /^Filters\.Filter\.\d+\.Name$/.test(k) && form.get(k) === 'dbi-resource-id')
  if (!filters.length) return body
  const instances = (await moto.rds(region).send(new DescribeDBInstancesCommand({}))).DBInstances ?? []
  for (const nameKey of filters) {
    const prefix = nameKey.replace(/Name$/, 'Values.Value.')
    const wanted = new Set([...form.keys()].filter((k) => k.startsWith(prefix)).map((k) => form.get(k)!))
    for (const k of [...form.keys()]) if (k.startsWith(prefix)) form.delete(k)
    const matches = instances.map((i) => i.DBInstanceIdentifier!).filter((id) => wanted.has(dbiResourceId(id, region)))
    form.set(nameKey, 'db-instance-id')
    // No match: an identifier that cannot exist, so that moto answers with an empty list as AWS does.
    ;(matches.length ? matches : ['clipper-ops-sandbox-no-such-instance']).forEach((id, n) => form.set(`${prefix}${n + 1}`, id))
  }
  return Buffer.from(form.toString())
}
