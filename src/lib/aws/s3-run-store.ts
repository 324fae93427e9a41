/**
 * Team state: runs, journals, reports and the audit trail in S3 (`state: s3://bucket/prefix`),
 * so that another operator's machine can read a run and continue it.
 *
 *   <prefix>runs/<id>/runbook.yaml            the runbook as it was at the start (created once)
 *   <prefix>runs/<id>/journal/<seq>.json      one object per journal entry, seq zero-padded
 *   <prefix>runs/<id>/state.json              the snapshot: the journal folded
 *   <prefix>runs/<id>/report.md, junit.xml    written at each ending
 *   <prefix>audit/<time>-<host>-<rand>.json   one object per audit entry
 *
 * S3's conditional writes are the compare-and-set. A journal entry is created with
 * `If-None-Match: *` at the next sequence number, so two writers of one run can never both write
 * entry N: the loser gets PreconditionFailed and stops (a revived holder after a takeover is
 * fenced by its first write). The snapshot is replaced with `If-Match: <etag it last wrote>`.
 * The journal is the truth: a load folds entries newer than the snapshot, as the local store does.
 * Each writer also keeps a copy of the journal and snapshot in its local state dir.
 */
import {appendFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import type {S3Client} from '@aws-sdk/client-s3'
import type {Environment} from '../config/schema.js'
import {OpsError, UsageError} from '../errors.js'
import type {AuditDamage, AuditEntry} from '../engine/audit.js'
import {applyEvent, atomicWriteFile, resolveRunRef, type JournalEntry, type RunEvent, type RunState, type StateDir} from '../engine/state.js'
import {StateConflictError, type RunStore, type RunWriter} from '../engine/store.js'
import {writeRunReports} from '../report/run-report.js'
import {awsClient, awsErrorName} from './clients.js'
import {runJunit, runMarkdown} from '../report/run-report.js'

export interface S3Place {
  bucket: string
  /** Empty, or ending with a slash. */
  prefix: string
}

export function parseS3Url(url: string): S3Place | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url)
  if (!m) return undefined
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '')
  return {bucket: m[1]!, prefix: prefix ? `${prefix}/` : ''}
}

const pad = (seq: number) => String(seq).padStart(10, '0')

function isPreconditionFailed(error: unknown): boolean {
  const e = error as {name?: string; $metadata?: {httpStatusCode?: number}}
  // 409 ConditionalRequestConflict: AWS's answer when two conditional writes race.
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 412
}

function isMissing(error: unknown): boolean {
  const e = error as {name?: string; $metadata?: {httpStatusCode?: number}}
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
}

/** The S3 calls the store makes, on one client; conditional puts say whether they won. */
class Objects {
  constructor(
    private readonly client: Promise<S3Client>,
    readonly place: S3Place,
  ) {}

  private async sdk() {
    return import('@aws-sdk/client-s3')
  }

  url(key: string): string {
    return `s3://${this.place.bucket}/${this.place.prefix}${key}`
  }

  async exists(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined
  }

  async get(key: string): Promise<{text: string; etag?: string} | undefined> {
    const {GetObjectCommand} = await this.sdk()
    try {
      const r = await (await this.client).send(new GetObjectCommand({Bucket: this.place.bucket, Key: this.place.prefix + key}))
      return {text: await r.Body!.transformToString(), etag: r.ETag}
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.failed('read', key, error)
    }
  }

  /** Put; `cond` makes it conditional. Returns the new ETag, or undefined when the condition failed. */
  async put(key: string, body: string, cond: {ifNoneMatch?: true; ifMatch?: string} = {}): Promise<string | undefined> {
    const {PutObjectCommand} = await this.sdk()
    try {
      const r = await (
        await this.client
      ).send(
        new PutObjectCommand({
          Bucket: this.place.bucket,
          Key: this.place.prefix + key,
          Body: body,
          ContentType: key.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8',
          ...(cond.ifNoneMatch ? {IfNoneMatch: '*'} : {}),
          ...(cond.ifMatch ? {IfMatch: cond.ifMatch} : {}),
        }),
      )
      return r.ETag ?? ''
    } catch (error) {
      if ((cond.ifNoneMatch || cond.ifMatch) && isPreconditionFailed(error)) return undefined
      throw this.failed('write', key, error)
    }
  }

  /** Keys under a prefix (relative to the store's prefix), in order; after `startAfter` when given. */
  async list(under: string, opts: {startAfter?: string; delimiter?: boolean} = {}): Promise<string[]> {
    const {ListObjectsV2Command} = await this.sdk()
    const out: string[] = []
    let ContinuationToken: string | undefined
    try {
      do {
        const page = await (
          await this.client
        ).send(
          new ListObjectsV2Command({
            Bucket: this.place.bucket,
            Prefix: this.place.prefix + under,
            ContinuationToken,
            ...(opts.startAfter ? {StartAfter: this.place.prefix + opts.startAfter} : {}),
            ...(opts.delimiter ? {Delimiter: '/'} : {}),
          }),
        )
        const keys = opts.delimiter ? (page.CommonPrefixes ?? []).map((p) => p.Prefix!) : (page.Contents ?? []).map((o) => o.Key!)
        out.push(...keys.map((k) => k.slice(this.place.prefix.length)))
        ContinuationToken = page.NextContinuationToken
      } while (ContinuationToken)
    } catch (error) {
      throw this.failed('list', under, error)
    }
    return out.sort()
  }

  failed(what: string, key: string, error: unknown): OpsError {
    return new OpsError(`Could not ${what} ${this.url(key)}: ${awsErrorName(error)}: ${(error as Error).message}`, {code: 'STATE_UNREACHABLE', cause: error})
  }
}

function parseEntry(objects: Objects, key: string, text: string): JournalEntry {
  try {
    return JSON.parse(text) as JournalEntry
  } catch (error) {
    throw new OpsError(
      `The journal entry ${objects.url(key)} is damaged (${(error as Error).message.slice(0, 120)}): this run's record cannot be trusted, so it is not resumed. Keep it for the post-mortem and start a new run.`,
      {code: 'STATE_DAMAGED', cause: error},
    )
  }
}

/** Read many objects, a few at a time. */
async function getAll(objects: Objects, keys: string[]): Promise<{key: string; text: string}[]> {
  const out: {key: string; text: string}[] = []
  for (let i = 0; i < keys.length; i += 16) {
    const batch = await Promise.all(keys.slice(i, i + 16).map(async (key) => ({key, got: await objects.get(key)})))
    for (const b of batch) if (b.got) out.push({key: b.key, text: b.got.text})
  }
  return out
}

export class S3RunStore implements RunStore {
  readonly shared = true
  private readonly objects: Objects

  constructor(
    url: string,
    environment: Environment | undefined,
    readonly local: StateDir,
  ) {
    const place = parseS3Url(url)
    if (!place) throw new UsageError(`state: ${url}: expected s3://bucket/prefix`, {code: 'BAD_STATE_URL'})
    if (!environment?.aws) {
      throw new UsageError(`state: ${url} needs AWS settings: the environment that names it must have an "aws" section (region, and optionally profile or endpoint).`, {
        code: 'NO_AWS',
      })
    }
    // Few attempts: a refused conditional write is an answer, not something to retry.
    this.objects = new Objects(awsClient('s3', environment, {maxAttempts: 3}), place)
  }

  get where(): string {
    return this.objects.url('').replace(/\/$/, '')
  }

  runWhere(id: string): string {
    return this.objects.url(`runs/${id}/`)
  }

  async listRunIds(): Promise<string[]> {
    return (await this.objects.list('runs/', {delimiter: true})).map((p) => p.slice('runs/'.length).replace(/\/$/, '')).filter(Boolean)
  }

  async readSnapshot(id: string): Promise<RunState | undefined> {
    const got = await this.objects.get(`runs/${id}/state.json`)
    try {
      return got ? (JSON.parse(got.text) as RunState) : undefined
    } catch {
      return undefined
    }
  }

  /** The snapshot (with its ETag) and the journal entries after it. */
  async read(id: string): Promise<{state: RunState; etag?: string; entries: JournalEntry[]}> {
    const snap = await this.objects.get(`runs/${id}/state.json`)
    let state: RunState | undefined
    try {
      state = snap ? (JSON.parse(snap.text) as RunState) : undefined
    } catch {
      state = undefined // the journal alone will do
    }
    const after = state ? `runs/${id}/journal/${pad(state.seq)}.json` : undefined
    const keys = await this.objects.list(`runs/${id}/journal/`, {startAfter: after})
    const entries = (await getAll(this.objects, keys)).map((o) => parseEntry(this.objects, o.key, o.text))
    for (const e of entries) if (!state || e.seq > state.seq) state = applyEvent(state as RunState, e)
    if (!state) {
      const ids = await this.listRunIds()
      const near = ids.filter((x) => x.includes(id)).slice(0, 3)
      throw new UsageError(`No run "${id}" in ${this.where}.${near.length ? ` Did you mean ${near.join(', ')}?` : ''} List runs with "clipper-ops runs list".`, {
        code: 'UNKNOWN_RUN',
      })
    }
    return {state, etag: snap?.etag, entries}
  }

  async load(id: string): Promise<RunState> {
    return (await this.read(id)).state
  }

  async resolveId(ref: string): Promise<string> {
    return resolveRunRef(await this.listRunIds(), ref, this.where)
  }

  async readJournal(id: string): Promise<JournalEntry[]> {
    const keys = await this.objects.list(`runs/${id}/journal/`)
    return (await getAll(this.objects, keys)).map((o) => parseEntry(this.objects, o.key, o.text))
  }

  async runbookSource(id: string): Promise<{text: string; where: string}> {
    const key = `runs/${id}/runbook.yaml`
    const got = await this.objects.get(key)
    if (!got) throw new OpsError(`The run's copy of its runbook, ${this.objects.url(key)}, is missing: it cannot be resumed; start a new run.`, {code: 'STATE_DAMAGED'})
    return {text: got.text, where: this.objects.url(key)}
  }

  async create(state: RunState, runbookSource: string): Promise<RunWriter> {
    if ((await this.objects.put(`runs/${state.id}/runbook.yaml`, runbookSource, {ifNoneMatch: true})) === undefined) {
      throw new StateConflictError(`A run ${state.id} already exists in ${this.where}; start again (a new run gets a new id).`)
    }
    const writer = new S3RunWriter(this.objects, this.local, state, undefined, [])
    await writer.append({type: 'run.created', state})
    return writer
  }

  async open(id: string): Promise<RunWriter> {
    const {state, etag, entries} = await this.read(id)
    return new S3RunWriter(this.objects, this.local, state, etag, entries)
  }

  async audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const at = new Date().toISOString()
    const key = `audit/${at.replace(/[:.]/g, '-')}-${entry.who.host.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}.json`
    if ((await this.objects.put(key, JSON.stringify({at, ...entry}), {ifNoneMatch: true})) === undefined) {
      throw new StateConflictError(`audit entry ${this.objects.url(key)} exists already`)
    }
  }

  async readAudit(onDamage: (d: AuditDamage) => void = () => undefined): Promise<AuditEntry[] | undefined> {
    const keys = await this.objects.list('audit/')
    if (keys.length === 0) return undefined
    const out: AuditEntry[] = []
    for (const [i, o] of (await getAll(this.objects, keys)).entries()) {
      try {
        out.push(JSON.parse(o.text) as AuditEntry)
      } catch {
        onDamage({file: this.objects.url(o.key), line: i + 1, message: 'skipped: not an audit entry'})
      }
    }
    return out.sort((a, b) => a.at.localeCompare(b.at))
  }

  async saveReports(writer: RunWriter): Promise<{markdown: string; junit: string; json: string}> {
    const files = writeRunReports(writer.dir, writer.state)
    // Derived from the journal and rewritten at each ending: plain puts.
    await Promise.all([
      this.objects.put(`runs/${writer.state.id}/report.md`, runMarkdown(writer.state)),
      this.objects.put(`runs/${writer.state.id}/junit.xml`, runJunit(writer.state)),
    ])
    return files
  }
}

/**
 * Appends go out one at a time, in order (each waits for the one before): entry N+1 is written
 * only once entry N is. A refused write fences the writer: every later append is refused too.
 */
class S3RunWriter implements RunWriter {
  private chain: Promise<unknown> = Promise.resolve()
  private listeners: ((e: JournalEntry) => void)[] = []
  private fencedBy: string | undefined
  readonly dir: string

  constructor(
    private readonly objects: Objects,
    local: StateDir,
    public state: RunState,
    private etag: string | undefined,
    entries: JournalEntry[],
  ) {
    this.dir = local.runDir(state.id)
    mkdirSync(this.dir, {recursive: true, mode: 0o700})
    // This machine's copy: the journal as read so far (the rest is appended as it is written).
    if (entries.length || state.seq > 0) {
      writeFileSync(join(this.dir, 'journal.jsonl'), entries.map((e) => `${JSON.stringify(e)}\n`).join(''), {mode: 0o600})
      atomicWriteFile(join(this.dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`)
    }
  }

  get fenced(): string | undefined {
    return this.fencedBy
  }

  onEvent(fn: (e: JournalEntry) => void): void {
    this.listeners.push(fn)
  }

  append(event: RunEvent): Promise<JournalEntry> {
    const next = this.chain.then(() => this.write(event))
    this.chain = next.catch(() => undefined)
    return next
  }

  private async write(event: RunEvent): Promise<JournalEntry> {
    if (this.fencedBy) throw new StateConflictError(this.fencedBy)
    const entry = {...event, seq: event.type === 'run.created' ? 1 : this.state.seq + 1, at: new Date().toISOString()} as JournalEntry
    const key = `runs/${this.state.id}/journal/${pad(entry.seq)}.json`
    if ((await this.objects.put(key, JSON.stringify(entry), {ifNoneMatch: true})) === undefined) {
      const other = await this.objects.get(key).catch(() => undefined)
      const by = other ? this.describeWriter(other.text) : 'another writer'
      this.fencedBy = `fenced: entry ${entry.seq} of run ${this.state.id}'s journal was written by ${by} first (${this.objects.url(key)}); this process no longer holds the run and stops without acting`
      throw new StateConflictError(this.fencedBy)
    }
    this.state = applyEvent(this.state, entry)
    const snapshot = `${JSON.stringify(this.state, null, 2)}\n`
    const etag = await this.objects.put(`runs/${this.state.id}/state.json`, snapshot, this.etag ? {ifMatch: this.etag} : {ifNoneMatch: true})
    if (etag === undefined) {
      this.fencedBy = `fenced: the snapshot ${this.objects.url(`runs/${this.state.id}/state.json`)} was replaced by another writer; this process no longer holds the run and stops without acting`
      throw new StateConflictError(this.fencedBy)
    }
    this.etag = etag
    appendFileSync(join(this.dir, 'journal.jsonl'), `${JSON.stringify(entry)}\n`, {mode: 0o600})
    atomicWriteFile(join(this.dir, 'state.json'), snapshot)
    for (const fn of this.listeners) fn(entry)
    return entry
  }

  private describeWriter(text: string): string {
    try {
      const e = JSON.parse(text) as JournalEntry
      return e.type === 'run.attempt' ? `${e.user}@${e.host} (pid ${e.pid})` : `another writer (its ${e.type} at ${e.at})`
    } catch {
      return 'another writer'
    }
  }

  /** Fold in what others wrote since we read the run (between our load and our lock). */
  async refresh(): Promise<void> {
    await this.chain
    const keys = await this.objects.list(`runs/${this.state.id}/journal/`, {startAfter: `runs/${this.state.id}/journal/${pad(this.state.seq)}.json`})
    if (keys.length === 0) return
    for (const o of await getAll(this.objects, keys)) {
      const e = parseEntry(this.objects, o.key, o.text)
      if (e.seq <= this.state.seq) continue
      this.state = applyEvent(this.state, e)
      appendFileSync(join(this.dir, 'journal.jsonl'), `${JSON.stringify(e)}\n`, {mode: 0o600})
    }
    this.etag = (await this.objects.get(`runs/${this.state.id}/state.json`))?.etag
  }

  async close(): Promise<void> {
    await this.chain
  }
}
