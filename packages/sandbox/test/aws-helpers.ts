/** Shared set-up for the AWS front tests: a moto and a front of their own per test file. */
import {execa} from 'execa'
import {startAwsFront, type AwsFront, type AwsFrontOptions} from '../src/aws-front/front.js'
import {startMoto, type MotoServer} from '../src/aws-front/moto.js'

export const REGION = 'us-east-1'
export const CREDENTIALS = {accessKeyId: 'AKIASANDBOXTEST', secretAccessKey: 'sandbox-secret'}

export interface Sandbox {
  moto: MotoServer
  front: AwsFront
  /** Options for SDK v3 clients aimed at the front. */
  client: {endpoint: string; region: string; credentials: typeof CREDENTIALS}
  stop(): Promise<void>
}

export async function startSandbox(opts: Partial<Omit<AwsFrontOptions, 'upstream'>> = {}): Promise<Sandbox> {
  const moto = await startMoto()
  let front: AwsFront
  try {
    front = await startAwsFront({upstream: moto.url, route53ChangeDelayMs: 300, backupJobStepMs: 150, ...opts})
  } catch (e) {
    await moto.stop()
    throw e
  }
  return {
    moto,
    front,
    client: {endpoint: front.url, region: REGION, credentials: CREDENTIALS},
    async stop() {
      await front.close().catch(() => undefined)
      await moto.stop()
    },
  }
}

/** Runs the AWS CLI (v1) against the front and returns its parsed JSON output. */
export async function awsCli(front: AwsFront, args: string[]): Promise<unknown> {
  const res = await execa('aws', ['--endpoint-url', front.url, '--region', REGION, '--output', 'json', ...args], {
    env: {
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: REGION,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    },
  })
  return res.stdout.trim() ? (JSON.parse(res.stdout) as unknown) : undefined
}

/** Log entries that arrived after index `from`. */
export function logSince(front: AwsFront, from: number) {
  return front.requestLog.slice(from).map((e) => ({service: e.service, operation: e.operation, mutating: e.mutating, status: e.status}))
}

/** Poll `fn` until `ok` holds (every 100 ms), or fail after `timeoutMs` with the last value. */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
