/**
 * The lock kept beside team state, for environments whose lock is not in Route 53: an object
 * <prefix>locks/<scope>.json. S3's conditional writes are the compare-and-set: take creates it
 * with If-None-Match: *, renew replaces it with If-Match: <the ETag we hold>, release deletes it
 * with If-Match — each succeeds only if nobody else moved the lock.
 */
import {UsageError} from '../errors.js'
import type {Environment} from '../config/schema.js'
import type {LockBackend, LockInfo} from '../engine/lock.js'
import {awsClient, awsErrorName} from './clients.js'
import {parseS3Url, type S3Place} from './s3-run-store.js'

export class S3LockBackend implements LockBackend {
  private readonly place: S3Place
  /** The ETag each lock we read or wrote was stored with: a replace or delete must name it. */
  private readonly etags = new WeakMap<LockInfo, string>()

  constructor(
    url: string,
    private readonly env: Environment,
  ) {
    const place = parseS3Url(url)
    if (!place) throw new UsageError(`state: ${url}: expected s3://bucket/prefix`, {code: 'BAD_STATE_URL'})
    this.place = place
  }

  private key(scope: string): string {
    return `${this.place.prefix}locks/${scope.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`
  }

  where(scope: string): string {
    return `s3://${this.place.bucket}/${this.key(scope)}`
  }

  private async client() {
    return {s3: await awsClient('s3', this.env, {maxAttempts: 3}), sdk: await import('@aws-sdk/client-s3')}
  }

  private static refused(error: unknown): boolean {
    const e = error as {name?: string; $metadata?: {httpStatusCode?: number}}
    return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.name === 'NoSuchKey' || [404, 409, 412].includes(e.$metadata?.httpStatusCode ?? 0)
  }

  async read(scope: string): Promise<LockInfo | undefined> {
    const {s3, sdk} = await this.client()
    try {
      const r = await s3.send(new sdk.GetObjectCommand({Bucket: this.place.bucket, Key: this.key(scope)}))
      const info = JSON.parse(await r.Body!.transformToString()) as LockInfo
      if (r.ETag) this.etags.set(info, r.ETag)
      return info
    } catch (error) {
      if ((error as {name?: string}).name === 'NoSuchKey' || (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return undefined
      throw new Error(`could not read the lock ${this.where(scope)}: ${awsErrorName(error)}`, {cause: error})
    }
  }

  private async put(info: LockInfo, cond: {IfNoneMatch: string} | {IfMatch: string}): Promise<boolean> {
    const {s3, sdk} = await this.client()
    try {
      const r = await s3.send(
        new sdk.PutObjectCommand({Bucket: this.place.bucket, Key: this.key(info.scope), Body: JSON.stringify(info, null, 2), ContentType: 'application/json', ...cond}),
      )
      if (r.ETag) this.etags.set(info, r.ETag)
      return true
    } catch (error) {
      if (S3LockBackend.refused(error)) return false
      throw error
    }
  }

  async create(info: LockInfo): Promise<{ok: true} | {ok: false; holder?: LockInfo}> {
    if (await this.put(info, {IfNoneMatch: '*'})) return {ok: true}
    return {ok: false, holder: await this.read(info.scope)}
  }

  async replace(expected: LockInfo, next: LockInfo): Promise<boolean> {
    const etag = this.etags.get(expected)
    return etag ? this.put(next, {IfMatch: etag}) : false
  }

  async remove(expected: LockInfo): Promise<boolean> {
    const etag = this.etags.get(expected)
    if (!etag) return false
    const {s3, sdk} = await this.client()
    try {
      await s3.send(new sdk.DeleteObjectCommand({Bucket: this.place.bucket, Key: this.key(expected.scope), IfMatch: etag}))
      return true
    } catch (error) {
      if (S3LockBackend.refused(error)) return false
      throw error
    }
  }
}
