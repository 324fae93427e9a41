/**
 * Kubernetes API access for an environment, with @kubernetes/client-node v2.
 *
 * Which kubeconfig: the environment's `kubernetes.kubeconfig`, else KUBECONFIG from its
 * `tools.env` (the sandbox points its own environment at its stand-in that way), else the
 * standard chain (KUBECONFIG, ~/.kube/config, in-cluster). Which context: `kubernetes.context`,
 * else the kubeconfig's current one. Which namespace: `kubernetes.namespace`, else the context's.
 *
 * client-node costs ~0.6 s to import, so it is loaded with await import() on first use only;
 * only its types are imported statically. A plain http:// server (the sandbox's stand-in) needs
 * `insecure-skip-tls-verify: true` in the cluster entry, or client-node refuses it.
 */
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {resolve} from 'node:path'
import type {AppsV1Api, AutoscalingV2Api, ConfigurationOptions, CoreV1Api, KubeConfig} from '@kubernetes/client-node'
import type {Environment} from '../config/schema.js'
import {UsageError} from '../errors.js'

export const loadClientNode = () => import('@kubernetes/client-node')

export async function loadKubeConfig(env: Environment | undefined): Promise<KubeConfig> {
  const k8s = await loadClientNode()
  const kc = new k8s.KubeConfig()
  const explicit = env?.kubernetes?.kubeconfig ?? env?.tools?.env?.KUBECONFIG
  if (explicit) {
    // KUBECONFIG may list several files; client-node's loadFromDefault merges such a list, but
    // only from process.env, so a list given in the config is read file by file here.
    const files = explicit
      .split(':')
      .filter(Boolean)
      .map((f) => resolve(f.replace(/^~(?=$|\/)/, homedir())))
    const missing = files.filter((f) => !existsSync(f))
    if (missing.length === files.length)
      throw new UsageError(`kubeconfig ${missing.join(', ')} does not exist (kubernetes.kubeconfig in clipper-ops.yaml)`, {code: 'NO_KUBECONFIG'})
    kc.loadFromFile(files.find((f) => existsSync(f))!)
    for (const f of files.filter((x) => existsSync(x)).slice(1)) {
      const more = new k8s.KubeConfig()
      more.loadFromFile(f)
      kc.mergeConfig(more, true)
    }
  } else {
    kc.loadFromDefault()
  }
  const want = env?.kubernetes?.context
  if (want) {
    if (!kc.getContextObject(want)) {
      const have = kc.getContexts().map((c) => c.name)
      throw new UsageError(`kubeconfig has no context "${want}" (it has: ${have.join(', ') || 'none'})`, {code: 'NO_KUBE_CONTEXT'})
    }
    kc.setCurrentContext(want)
  }
  return kc
}

export interface K8sApis {
  kc: KubeConfig
  apps: AppsV1Api
  core: CoreV1Api
  autoscaling: AutoscalingV2Api
  context: string
  namespace: string
  /** The API server's URL, for messages. */
  server: string
  /** Per-call options: abort with `signal`, give up after `timeoutMs`. */
  callOptions(signal: AbortSignal, timeoutMs?: number): ConfigurationOptions
}

export async function k8sApis(env: Environment | undefined): Promise<K8sApis> {
  const k8s = await loadClientNode()
  const kc = await loadKubeConfig(env)
  const context = kc.getCurrentContext()
  const namespace = env?.kubernetes?.namespace ?? kc.getContextObject(context)?.namespace ?? 'default'
  return {
    kc,
    apps: kc.makeApiClient(k8s.AppsV1Api),
    core: kc.makeApiClient(k8s.CoreV1Api),
    autoscaling: kc.makeApiClient(k8s.AutoscalingV2Api),
    context,
    namespace,
    server: kc.getCurrentCluster()?.server ?? '(no cluster)',
    callOptions(signal, timeoutMs = 15_000) {
      const s = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      // The generated clients take a signal only through a middleware on the request context.
      const middleware = {
        pre: (rc: {setSignal(s: AbortSignal): void}) => {
          rc.setSignal(s)
          return new k8s.Observable(Promise.resolve(rc))
        },
        post: (r: unknown) => new k8s.Observable(Promise.resolve(r)),
      }
      return {middleware: [middleware as never], middlewareMergeStrategy: 'append'}
    },
  }
}

/** "404 NotFound: deployments.apps "web" not found" from client-node's ApiException, or the network error. */
export function k8sErrorMessage(error: unknown): string {
  const e = error as {code?: unknown; body?: unknown; message?: string; cause?: {code?: string; message?: string}}
  if (typeof e.code === 'number') {
    let status: {reason?: string; message?: string} | undefined
    try {
      status = typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as typeof status)
    } catch {
      status = undefined
    }
    return `HTTP ${e.code}${status?.reason ? ` ${status.reason}` : ''}: ${status?.message ?? e.message ?? 'error'}`
  }
  if (e.cause?.code) return `${e.cause.code}${e.cause.message ? ` (${e.cause.message})` : ''}`
  return e.message ?? String(error)
}

/** HTTP status of a client-node API error, if it is one. */
export function k8sStatus(error: unknown): number | undefined {
  const code = (error as {code?: unknown})?.code
  return typeof code === 'number' ? code : undefined
}
