/**
 * The sandbox's AWS endpoint: a small HTTP server in front of moto_server. SDK clients and the AWS
 * CLI point at it and get AWS's behaviour where moto differs (Route 53 change-batch rules and
 * change status, AWS Backup jobs and recovery points), injected faults, and a complete request log.
 * Everything else goes to moto unchanged.
 *
 * Control endpoints for other processes (the CLI's `sandbox fault` command) live under /_sandbox/,
 * a path no AWS client uses.
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'
import {BackupService, type SeedRecoveryPointOptions} from './backup.js'
import {EksExtras, type NodegroupHealth} from './eks-extras.js'
import {awsError, internalError, renderError, serviceUnavailableError, throttlingError, type HttpAnswer} from './wire-errors.js'
import {FaultController, faultLabel, spoilsAnswer, validateFaultRule, type ActiveFault, type FaultRule} from './faults.js'
import {healthCheckStatus} from './health-checks.js'
import {MotoClients} from './moto-clients.js'
import {translateResourceIdFilter, uniqueDbiResourceIds} from './rds-ids.js'
import {RdsPostgres} from './rds-postgres.js'
import {snapshotTypeRequest} from './rds-snapshot-types.js'
import {identifyOperation, needsBodyToIdentify, type OperationInfo} from './operation.js'
import {RequestLog, type RequestLogEntry} from './request-log.js'
import {ChangeTracker, KeyedLock, parseChangeBatch, readZone, rewriteRecordList, route53Error, stripZoneId, validateChangeBatch} from './route53-rules.js'
import {listen} from '../listen.js'

export type {RequestLogEntry} from './request-log.js'
export type {FaultRule, FaultKind, ActiveFault} from './faults.js'
export {FaultController} from './faults.js'
export type {SeedRecoveryPointOptions, RecoveryPoint, BackupJob, RestoreJob} from './backup.js'
export {BackupService} from './backup.js'
export {RdsPostgres} from './rds-postgres.js'

export interface AwsFront {
  url: string
  port: number
  /** Every AWS call in arrival order; entries get their status when answered. */
  requestLog: RequestLogEntry[]
  faults: FaultController
  /** Recovery points and jobs the front serves for AWS Backup; seedRecoveryPoint() adds points. */
  backup: BackupService
  /** EKS add-ons and node group health (what moto lacks). */
  eks: EksExtras
  /** RDS backed by a real PostgreSQL: attach() one to back the sandbox's instance. */
  rds: RdsPostgres
  /** Hold calls to these services (signing names) until `until` settles: seeding in the background. */
  hold(services: string[], until: Promise<unknown>): void
  close(): Promise<void>
}

export interface AwsFrontOptions {
  /** moto_server's URL, e.g. http://127.0.0.1:5000 */
  upstream: string
  /** Port to listen on; a free one when omitted. */
  port?: number
  /** Address to listen on; 127.0.0.1 when omitted. */
  host?: string
  /** How long a Route 53 change stays PENDING before GetChange says INSYNC. Default 2000. */
  route53ChangeDelayMs?: number
  /** Append each finished log entry to this file as a JSON line. */
  logFile?: string
  /** Time between AWS Backup job states (CREATED -> RUNNING -> COMPLETED). Default 1000. */
  backupJobStepMs?: number
  /** How long an RDS snapshot copy stays `creating` once its source is available. Default 2000. */
  snapshotCopyMs?: number
}

/** Route 53 operations whose answer carries a ChangeInfo that AWS reports PENDING at first. */
const ROUTE53_CHANGE_OPS = new Set(['ChangeResourceRecordSets', 'CreateHostedZone', 'DeleteHostedZone', 'AssociateVPCWithHostedZone', 'DisassociateVPCFromHostedZone'])

export async function startAwsFront(opts: AwsFrontOptions): Promise<AwsFront> {
  const upstream = new URL(opts.upstream)
  const host = opts.host ?? '127.0.0.1'
  const log = new RequestLog(opts.logFile)
  const faults = new FaultController()
  const moto = new MotoClients(upstream.origin)
  const changes = new ChangeTracker(opts.route53ChangeDelayMs ?? 2000)
  const zoneLock = new KeyedLock()
  const backup = new BackupService(moto, opts.backupJobStepMs ?? 1000)
  const eks = new EksExtras(moto)
  const rds = new RdsPostgres(backup, moto, opts.snapshotCopyMs ?? 2000)
  backup.rds = rds
  const held = new Map<string, Promise<unknown>>()

  async function handleAws(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase()
    const url = req.url ?? '/'
    let body: Buffer | undefined
    if (needsBodyToIdentify({method, url, headers: req.headers})) body = await readBody(req)
    const info = identifyOperation({method, url, headers: req.headers, ...(body ? {body} : {})})

    const entry = log.start({time: new Date().toISOString(), service: info.service, operation: info.operation, method, path: url, mutating: info.mutating})
    let finished = false
    const finish = (status: number): void => {
      if (finished) return
      finished = true
      log.finish(entry, status)
    }
    res.on('finish', () => finish(res.statusCode))
    res.on('close', () => finish(res.writableFinished ? res.statusCode : 0))

    await held.get(info.service)
    // Faults first: latency delays, then at most one fault answers instead of AWS.
    const fired = faults.take(info.service, info.operation)
    if (fired.length) entry.fault = fired.map(faultLabel).join(',')
    for (const f of fired) if (f.kind === 'latency') await sleep(f.latencyMs ?? 0)
    const answering = fired.find((f) => f.kind !== 'latency')
    if (answering && spoilsAnswer(answering.kind)) spoilAnswer(req, res, answering, finish)
    else if (answering) {
      if (answering.kind === 'drop') {
        // No answer at all: the client sees the connection reset.
        req.socket.destroy()
        return
      }
      // Drain the request: bytes left unread would corrupt the next request on a kept-alive connection.
      if (body === undefined) await readBody(req)
      return send(res, faultAnswer(answering.kind, info, req))
    }

    if (info.service === 'route53' && info.operation === 'ChangeResourceRecordSets') return changeRecordSets(req, res, info, entry, body)
    if (info.service === 'route53' && info.operation === 'GetChange') {
      const answer = changes.getChange(info.params.Id ?? '')
      if (answer) return send(res, answer)
    }
    if (info.service === 'route53' && info.operation === 'GetHealthCheckStatus') {
      const id = /\/healthcheck\/([^/]+)\/status/.exec(req.url ?? '')?.[1]
      const answer = id ? await healthCheckStatus(moto.route53(), decodeURIComponent(id)) : undefined
      if (answer) return send(res, answer)
    }
    if (info.service === 'backup' && backup.handles(info.operation)) {
      body ??= await readBody(req)
      return send(res, await backup.handle(info, body))
    }
    if (info.service === 'eks' && eks.handles(info.operation)) {
      body ??= await readBody(req)
      return send(res, await eks.handle(info, body))
    }
    // moto reads the ARN of Backup's ListTags from the path as botocore sends it, with a trailing
    // slash; the Go SDK (Terraform's provider) sends none, and moto would answer no tags.
    if (info.service === 'backup' && info.operation === 'ListTags' && req.url && !req.url.split('?')[0]!.endsWith('/')) req.url = req.url.replace(/(\?|$)/, '/$1')
    if (info.service === 'rds' && rds.handles(info.operation)) {
      body ??= await readBody(req)
      const answer = await rds.handle(info, body, (b) => exchange(req, info, b))
      if (answer) return send(res, answer)
    }
    if (info.service === 'rds' && info.operation === 'DescribeDBInstances') {
      body = await translateResourceIdFilter(body ?? (await readBody(req)), info.region, moto)
    }
    if (info.service === 'rds' && info.operation === 'DescribeDBSnapshots') {
      const types = snapshotTypeRequest(body ?? (await readBody(req)), new Map([...backup.recoveryPoints.values()].map((p) => [p.snapshotIdentifier, p.CreationDate])))
      const fix = await rewriterFor(info)
      return proxy(req, res, info, types.body, (xml) => fix!(types.rewrite(xml)))
    }
    await proxy(req, res, info, body, await rewriterFor(info))
  }

  /** Where moto's answer is not AWS's: how to correct it on the way back. */
  async function rewriterFor(info: OperationInfo): Promise<((text: string) => string) | undefined> {
    if (info.service === 'eks') return eks.rewrite(info)
    if (info.service === 'rds') {
      // Read before the answer comes back: rewriting it is synchronous.
      const latest = await rds.latestRestorable()
      return (xml) => rds.rewrite(uniqueDbiResourceIds(xml), latest, info.region)
    }
    if (info.service === 'route53' && ROUTE53_CHANGE_OPS.has(info.operation)) return (xml) => changes.rewriteChangeInfo(xml)
    if (info.service === 'route53' && info.operation === 'ListResourceRecordSets') return rewriteRecordList
    return undefined
  }

  /**
   * Checks a change batch the way Route 53 does before moto sees it. Per zone, one batch at a time,
   * so a batch is judged against the zone as the previous one left it.
   */
  async function changeRecordSets(req: IncomingMessage, res: ServerResponse, info: OperationInfo, entry: RequestLogEntry, alreadyRead?: Buffer): Promise<void> {
    const body = alreadyRead ?? (await readBody(req))
    const batch = parseChangeBatch(body.toString('utf8'))
    // The log says what each batch touched, so a test can count the batches that moved a record.
    if (batch) {
      entry.changes = batch.changes.map(
        (c) =>
          `${c.action} ${c.record.name} ${c.record.type}${c.record.setIdentifier ? ` ${c.record.setIdentifier}` : ''}${c.record.weight !== undefined ? ` w=${c.record.weight}` : ''}`,
      )
      if (batch.comment) entry.comment = batch.comment
    }
    const zoneId = stripZoneId(info.params.HostedZoneId ?? '')
    const rewrite = (xml: string): string => changes.rewriteChangeInfo(xml, batch?.comment)
    if (!batch || !zoneId) return proxy(req, res, info, body, rewrite)
    await zoneLock.run(zoneId, async () => {
      const client = moto.route53()
      const zone = await readZone(client, zoneId)
      // An unknown zone: moto answers NoSuchHostedZone.
      if (!zone) return proxy(req, res, info, body, rewrite)
      const verdict = await validateChangeBatch(zone, batch.changes, (id) => readZone(client, id))
      if (!verdict.ok) return send(res, route53Error(verdict.code, verdict.message))
      // moto refuses a CREATE identical to one in its change history while any record of that
      // name and type exists ("already exists" when moving weights back to where they were).
      // The batch is checked above, so each CREATE makes a record that does not exist: as an
      // UPSERT, moto does exactly that.
      await proxy(req, res, info, Buffer.from(body.toString('utf8').replace(/<Action>CREATE<\/Action>/g, '<Action>UPSERT</Action>')), rewrite)
    })
  }

  /** Sends a request (with this body) to moto and returns its whole answer, for a module to look at before answering. */
  function exchange(req: IncomingMessage, info: OperationInfo, body: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve) => {
      const headers: http.OutgoingHttpHeaders = {...req.headers, 'content-length': String(body.length)}
      for (const h of ['connection', 'keep-alive', 'transfer-encoding']) delete headers[h]
      const upReq = http.request({protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers}, (up) => {
        readBody(up).then(
          (raw) => {
            const out: Record<string, string> = {}
            for (const [k, v] of Object.entries(up.headers))
              if (typeof v === 'string' && !['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) out[k] = v
            resolve({status: up.statusCode ?? 502, headers: out, body: raw.toString('utf8')})
          },
          (e: Error) => resolve(awsError(info, {status: 502, code: 'BadGateway', message: `moto is not answering: ${e.message}`, type: 'Receiver'})),
        )
      })
      upReq.on('error', (e) => resolve(awsError(info, {status: 502, code: 'BadGateway', message: `moto is not answering: ${e.message}`, type: 'Receiver'})))
      upReq.end(body)
    })
  }

  /** Forwards a request to moto, streaming the answer back (or rewriting it when asked). */
  function proxy(req: IncomingMessage, res: ServerResponse, info: OperationInfo, body: Buffer | undefined, rewrite?: (text: string) => string): Promise<void> {
    return new Promise((resolve) => {
      const headers = {...req.headers}
      delete headers.connection
      delete headers['keep-alive']
      if (body) {
        headers['content-length'] = String(body.length)
        delete headers['transfer-encoding']
      }
      const upReq = http.request({protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers})
      res.on('close', () => {
        if (!res.writableFinished) upReq.destroy()
        resolve()
      })
      upReq.on('error', (e) => {
        if (!res.headersSent) send(res, awsError(info, {status: 502, code: 'BadGateway', message: `moto is not answering: ${e.message}`, type: 'Receiver'}))
        else res.destroy()
        resolve()
      })
      upReq.on('response', (up) => {
        const status = up.statusCode ?? 502
        const outHeaders = {...up.headers}
        for (const h of ['connection', 'keep-alive', 'transfer-encoding']) delete outHeaders[h]
        if (rewrite && status >= 200 && status < 300) {
          readBody(up).then(
            (raw) => {
              const text = rewrite(raw.toString('utf8'))
              outHeaders['content-length'] = String(Buffer.byteLength(text))
              res.writeHead(status, outHeaders)
              res.end(text, () => resolve())
            },
            () => {
              res.destroy()
              resolve()
            },
          )
          return
        }
        res.writeHead(status, outHeaders)
        up.pipe(res)
        up.on('end', () => res.once('finish', () => resolve()))
        up.on('error', () => {
          res.destroy()
          resolve()
        })
      })
      if (body) upReq.end(body)
      else req.pipe(upReq)
    })
  }

  // --- control endpoints ------------------------------------------------------------------------

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://front.invalid')
    const path = url.pathname.replace(/\/+$/, '')
    const method = req.method ?? 'GET'
    const json = (status: number, value: unknown): void => send(res, {status, headers: {'content-type': 'application/json'}, body: JSON.stringify(value)})
    try {
      if (path === '/_sandbox/health' && method === 'GET') return json(200, {ok: true, upstream: upstream.origin})
      if (path === '/_sandbox/faults') {
        if (method === 'GET') return json(200, {faults: faults.list()})
        if (method === 'POST') {
          const input = JSON.parse((await readBody(req)).toString('utf8') || 'null') as unknown
          if (Array.isArray(input)) {
            const rules = input.map((r) => validateFaultRule(r))
            return json(201, {ids: rules.map((r) => faults.add(r))})
          }
          return json(201, {id: faults.add(input as FaultRule)})
        }
        if (method === 'DELETE') {
          faults.clear()
          eks.clearFaults()
          return json(200, {cleared: true})
        }
      }
      const one = /^\/_sandbox\/faults\/([^/]+)$/.exec(path)
      if (one && method === 'DELETE') {
        return faults.clear(decodeURIComponent(one[1]!)) ? json(200, {cleared: true}) : json(404, {error: `no fault with id ${one[1]}`})
      }
      if (path === '/_sandbox/requests' && method === 'GET') {
        let entries = log.since(url.searchParams.get('since') ?? undefined)
        const service = url.searchParams.get('service')
        const operation = url.searchParams.get('operation')
        const mutating = url.searchParams.get('mutating')
        if (service) entries = entries.filter((e) => e.service === service)
        if (operation) entries = entries.filter((e) => e.operation === operation)
        if (mutating) entries = entries.filter((e) => String(e.mutating) === mutating)
        return json(200, {requests: entries})
      }
      if (path === '/_sandbox/backup/recovery-points' && method === 'POST') {
        const input = JSON.parse((await readBody(req)).toString('utf8')) as SeedRecoveryPointOptions & {creationDate?: string}
        const point = await backup.seedRecoveryPoint({...input, ...(input.creationDate ? {creationDate: new Date(input.creationDate)} : {})} as SeedRecoveryPointOptions)
        return json(201, {recoveryPoint: point})
      }
      const nodegroup = /^\/_sandbox\/eks\/([^/]+)\/nodegroups\/([^/]+)$/.exec(path)
      if (nodegroup && method === 'POST') {
        const health = JSON.parse((await readBody(req)).toString('utf8') || '{}') as NodegroupHealth
        eks.setNodegroupHealth(decodeURIComponent(nodegroup[1]!), decodeURIComponent(nodegroup[2]!), health)
        return json(200, {cluster: nodegroup[1], nodegroup: nodegroup[2], ...health})
      }
      return json(404, {error: `no sandbox endpoint ${method} ${path}`})
    } catch (e) {
      return json(400, {error: (e as Error).message})
    }
  }

  const server = http.createServer((req, res) => {
    const isControl = (req.url ?? '').startsWith('/_sandbox/')
    const work = isControl ? handleControl(req, res) : handleAws(req, res)
    work.catch((e: unknown) => {
      // A bug or moto trouble: answer 500 in a generic shape rather than hang the client.
      if (!res.headersSent) send(res, renderError('rest-json', 'sandbox', {status: 500, code: 'InternalFailure', message: `sandbox front: ${(e as Error).message}`}))
      else res.destroy()
    })
  })
  // SDK clients keep connections alive; do not let idle ones hold close() up.
  server.keepAliveTimeout = 5_000

  const {port, url} = await listen(server, opts.port, host)

  return {
    url,
    port,
    requestLog: log.entries,
    faults,
    backup,
    eks,
    rds,
    hold(services, until) {
      const settled = until.catch(() => undefined)
      for (const s of services) held.set(s, settled)
      void settled.then(() => services.forEach((s) => held.get(s) === settled && held.delete(s)))
    },
    async close() {
      backup.close()
      rds.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      moto.destroy()
      await log.close()
    },
  }
}

/**
 * The request goes on to AWS and takes effect; its answer is then lost (the connection reset) or
 * held back. The log keeps the status AWS answered, so a batch that was applied still counts.
 */
function spoilAnswer(req: IncomingMessage, res: ServerResponse, fault: ActiveFault, finish: (status: number) => void): void {
  const parts: {head?: unknown[]; chunks: unknown[]} = {chunks: []}
  const writeHead = res.writeHead.bind(res)
  const write = res.write.bind(res)
  const end = res.end.bind(res)
  res.writeHead = ((...a: unknown[]) => ((parts.head = a), res)) as typeof res.writeHead
  res.write = ((chunk: unknown) => (parts.chunks.push(chunk), true)) as typeof res.write
  res.end = ((chunk?: unknown) => {
    if (chunk !== undefined && typeof chunk !== 'function') parts.chunks.push(chunk)
    const status = typeof parts.head?.[0] === 'number' ? parts.head[0] : res.statusCode
    if (fault.kind === 'lostResponse') {
      finish(status)
      req.socket.destroy()
      return res
    }
    setTimeout(() => {
      if (parts.head) (writeHead as (...a: unknown[]) => void)(...parts.head)
      for (const c of parts.chunks) write(c as Buffer)
      end()
    }, fault.latencyMs ?? 0)
    return res
  }) as typeof res.end
}

function faultAnswer(kind: FaultRule['kind'], info: OperationInfo, req: IncomingMessage): HttpAnswer {
  switch (kind) {
    case 'throttle':
      return awsError(info, throttlingError(info), req.headers)
    case 'priorRequestNotComplete':
      return awsError(info, {status: 400, code: 'PriorRequestNotComplete', message: 'The request was rejected because Route 53 was still processing a prior request.'}, req.headers)
    case 'http500':
      return awsError(info, internalError(info), req.headers)
    case 'http503':
      return awsError(info, serviceUnavailableError(info), req.headers)
    default:
      throw new Error(`fault ${kind} does not answer`)
  }
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, {...answer.headers, 'content-length': String(Buffer.byteLength(answer.body))})
  res.end(answer.body)
}

function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
  })
}
