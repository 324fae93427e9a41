/**
 * Where a sandbox keeps its files: under the state dir, in sandbox/. Pid files and logs sit
 * beside the generated config, kubeconfig, AWS profile files and tool stand-ins.
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
  logs: {daemon: string; moto: string; awsRequests: string}
}

export class SandboxLayout {
  constructor(readonly dir: string) {}

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
  get config(): string {
    return join(this.dir, 'clipper-ops.yaml')
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

  readInfo(): SandboxInfo | undefined {
    if (!existsSync(this.info)) return undefined
    try {
      return JSON.parse(readFileSync(this.info, 'utf8')) as SandboxInfo
    } catch {
      return undefined
    }
  }
}

export function sandboxDir(stateDir: string): string {
  return join(stateDir, 'sandbox')
}

/** The sandbox's generated config, which `--env sandbox` falls back to. */
export function sandboxConfigFile(stateRoot: string): string {
  return join(sandboxDir(stateRoot), 'clipper-ops.yaml')
}
