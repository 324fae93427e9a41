/**
 * Drill history: every drill's result, kept where the team shares it — an S3 prefix
 * (`dr.history: s3://bucket/prefix`) or a local directory (by default `<state dir>/dr-history`).
 * One object per drill, `<env>/<started at>-<run id>.json`, never rewritten: in S3 it is created
 * with `If-None-Match: *`, so two writers can never overwrite each other's result.
 */
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import type {Environment} from '../config/schema.js'
import {awsClient} from '../aws/clients.js'
import type {DrillResult} from '../report/drill-report.js'

export type HistoryPlace = {kind: 's3'; bucket: string; prefix: string} | {kind: 'dir'; dir: string}

export function historyPlace(env: Environment, stateRoot: string): HistoryPlace {
  const where = env.dr?.history
  const s3 = where ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(where) : null
  if (s3) return {kind: 's3', bucket: s3[1]!, prefix: s3[2]!.replace(/\/?$/, s3[2] ? '/' : '')}
  return {kind: 'dir', dir: resolve(where ?? join(stateRoot, 'dr-history'))}
}

export function describePlace(p: HistoryPlace): string {
  return p.kind === 's3' ? `s3://${p.bucket}/${p.prefix}` : p.dir
}

const keyOf = (envName: string, d: DrillResult) => `${envName}/${d.startedAt.replace(/[:.]/g, '-')}-${d.runId}.json`

/** Append one drill's result; returns where it went. */
export async function appendDrill(env: Environment, envName: string, stateRoot: string, d: DrillResult): Promise<string> {
  const place = historyPlace(env, stateRoot)
  const body = `${JSON.stringify(d, null, 2)}\n`
  if (place.kind === 'dir') {
    const file = join(place.dir, keyOf(envName, d))
    mkdirSync(join(place.dir, envName), {recursive: true})
    writeFileSync(file, body, {flag: 'wx'})
    return file
  }
  const s3 = await awsClient('s3', env)
  const {PutObjectCommand} = await import('@aws-sdk/client-s3')
  const Key = `${place.prefix}${keyOf(envName, d)}`
  await s3.send(new PutObjectCommand({Bucket: place.bucket, Key, Body: body, ContentType: 'application/json', IfNoneMatch: '*'}))
  return `s3://${place.bucket}/${Key}`
}

/** Every drill of an environment, oldest first. */
export async function readHistory(env: Environment, envName: string, stateRoot: string): Promise<DrillResult[]> {
  const place = historyPlace(env, stateRoot)
  const results: DrillResult[] = []
  if (place.kind === 'dir') {
    let files: string[]
    try {
      files = readdirSync(join(place.dir, envName)).filter((f) => f.endsWith('.json'))
    } catch {
      return []
    }
    for (const f of files) results.push(JSON.parse(readFileSync(join(place.dir, envName, f), 'utf8')) as DrillResult)
  } else {
    const s3 = await awsClient('s3', env)
    const {ListObjectsV2Command, GetObjectCommand} = await import('@aws-sdk/client-s3')
    let ContinuationToken: string | undefined
    const keys: string[] = []
    do {
      const page = await s3.send(new ListObjectsV2Command({Bucket: place.bucket, Prefix: `${place.prefix}${envName}/`, ContinuationToken}))
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.json')))
      ContinuationToken = page.NextContinuationToken
    } while (ContinuationToken)
    for (const Key of keys) {
      const o = await s3.send(new GetObjectCommand({Bucket: place.bucket, Key}))
      results.push(JSON.parse(await o.Body!.transformToString()) as DrillResult)
    }
  }
  return results.sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}
