/**
 * Where a sandbox keeps its files: under the state dir, in sandbox/. Pid files and logs sit
 * beside the kubeconfig, AWS profile files and tool stand-ins. Its clipper-ops.yaml goes where
 * the CLI looks for a fallback config (its contract, in clipper-ops's src/lib/config/load.ts:
 * <state dir>/fallback/clipper-ops.yaml), so that `--env sandbox` works in any directory.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

export interface SandboxInfo {
  version: 1
  state: 'starting' | 'ready' | 'stopping'
  pid: number
  motoPid?: number
  startedAt: string
  readyAt?: string
  readyMs?: number
  region: string
  awsEndpoint: string
  motoUrl: string
  controlUrl: string
  kubernetesApi: string
  kubeconfig: string
  config: string
  environment: 'sandbox'
  stacks: {legacy: string; kubernetes: string}
  publicUrl: string
  prometheusUrl?: string
  hostedZoneId: string
  recordName: string
  ttl: number
  bin: string
  /** The real helm first on the sandbox's PATH, or null when none was found (see warnings). */
  helm: string | null
  /** What the sandbox lacks, said once when it starts. */
  warnings: string[]
  /** The PostgreSQL behind the RDS instance, or null when there is none (see warnings). */
  postgres?: SandboxPostgres | null
  /** Snapshots of the RDS instance copied to the secondary region while the sandbox runs (null: none, without PostgreSQL or with an interval of 0). */
  snapshotCopies?: {region: string; everySeconds: number; keep: number} | null
  logs: {daemon: string; moto: string; awsRequests: string}
  /** The notification sink (Slack, PagerDuty, a JSON webhook) the sandbox environment's notify config points at. */
  notify?: SandboxNotify | null
}

export interface SandboxNotify {
  url: string
  /** Every notification it received, one JSON line each, in order. */
  deliveries: string
  /** The secrets' values as NAME=value lines (mode 0600): `sandbox status --env-vars` exports them. */
  envFile: string
  /** The variables the sandbox environment's notify config names, by provider. */
  variables: Record<string, string>
}

export interface SandboxPostgres {
  /** The primary's port on 127.0.0.1 (the RDS instance's endpoint). */
  port: number
  /** Where all its data is: the primary, the WAL archive, base backups, restored copies, logs. */
  dataRoot: string
  archiveDir: string
  /** Base backups taken (and finished) so far. */
  baseBackups: number
}

export class SandboxLayout {
  readonly dir: string

  constructor(readonly stateRoot: string) {
    this.dir = join(stateRoot, 'sandbox')
  }

  get info(): string {
    return join(this.dir, 'sandbox.json')
  }
  get daemonPid(): string {
    return join(this.dir, 'daemon.pid')
  }
  get motoPid(): string {
    return join(this.dir, 'moto.pid')
  }
  get daemonLog(): string {
    return join(this.dir, 'daemon.log')
  }
  get motoLog(): string {
    return join(this.dir, 'moto.log')
  }
  get awsRequests(): string {
    return join(this.dir, 'aws-requests.jsonl')
  }
  get kubeconfig(): string {
    return join(this.dir, 'kubeconfig')
  }
  /** The CLI's fallback config (its contract: fallbackConfigFile in src/lib/config/load.ts). */
  get config(): string {
    return join(this.stateRoot, 'fallback', 'clipper-ops.yaml')
  }
  get bin(): string {
    return join(this.dir, 'bin')
  }
  get awsConfig(): string {
    return join(this.dir, 'aws', 'config')
  }
  get awsCredentials(): string {
    return join(this.dir, 'aws', 'credentials')
  }
  get composeFile(): string {
    return join(this.dir, 'compose', 'docker-compose.yml')
  }
  get terraformrc(): string {
    return join(this.dir, 'terraform', 'terraformrc')
  }
  get helmHome(): string {
    return join(this.dir, 'helm')
  }
  get notifyDeliveries(): string {
    return join(this.dir, 'notify-deliveries.jsonl')
  }
  get notifyEnv(): string {
    return join(this.dir, 'notify.env')
  }

  readInfo(): SandboxInfo | undefined {
    if (!existsSync(this.info)) return undefined
    try {
      return JSON.parse(readFileSync(this.info, 'utf8')) as SandboxInfo
    } catch {
      return undefined
    }
  }
}
