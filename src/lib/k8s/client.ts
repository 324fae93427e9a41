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
import {AsyncLocalStorage} from 'node:async_hooks'
import type {KubeConfig, KubernetesListObject, KubernetesObject, RequestContext, ResponseContext, VersionInfo} from '@kubernetes/client-node'
import type {Environment} from '../config/schema.js'
import {UsageError} from '../errors.js'

const loadClientNode = () => import('@kubernetes/client-node')

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
  context: string
  namespace: string
  /** The API server's URL, for messages. */
  server: string
  /** One object (`apps/v1` `Deployment` `web`), of `namespace` or else the environment's; gives up with `signal` or after `timeoutMs`. */
  read<T extends KubernetesObject>(ref: {apiVersion: string; kind: string; name: string; namespace?: string}, signal: AbortSignal, timeoutMs?: number): Promise<T>
  /** Objects of a kind in a namespace, or all of a cluster-scoped kind (Node). */
  list<T extends KubernetesObject>(
    ref: {apiVersion: string; kind: string; namespace?: string; labelSelector?: string; clusterScoped?: boolean},
    signal: AbortSignal,
    timeoutMs?: number,
  ): Promise<KubernetesListObject<T>>
  /** POST an object (a SelfSubjectAccessReview) and return what the server made of it. */
  create<T extends KubernetesObject>(spec: T, signal: AbortSignal, timeoutMs?: number): Promise<T>
  /** `/version`. */
  version(signal: AbortSignal, timeoutMs?: number): Promise<VersionInfo>
}

/**
 * Through client-node's generic KubernetesObjectApi (it finds a kind's path by discovery, cached
 * per client) rather than its generated classes of each API group, which bring every operation
 * of their group: ~0.9 MB of the package for the few calls made here.
 */
export async function k8sApis(env: Environment | undefined): Promise<K8sApis> {
  const k8s = await loadClientNode()
  const kc = await loadKubeConfig(env)
  const context = kc.getCurrentContext()
  const namespace = env?.kubernetes?.namespace ?? kc.getContextObject(context)?.namespace ?? 'default'
  const server = kc.getCurrentCluster()?.server
  if (!server) throw new UsageError(`kubeconfig context "${context}" names no cluster with a server`, {code: 'NO_KUBE_CONTEXT'})
  // The generated clients take an abort signal only through a middleware on the request context;
  // each call runs with its own signal in `calls`, which the middleware reads.
  const calls = new AsyncLocalStorage<AbortSignal>()
  const middleware = {
    pre: (rc: RequestContext) => {
      const signal = calls.getStore()
      if (signal) rc.setSignal(signal)
      return new k8s.Observable(Promise.resolve(rc))
    },
    post: (r: ResponseContext) => new k8s.Observable(Promise.resolve(r)),
  }
  const configuration = k8s.createConfiguration({baseServer: new k8s.ServerConfiguration(server, {}), authMethods: {default: kc}, middleware: [middleware]})
  const objects = new k8s.KubernetesObjectApi(configuration)
  const call = async <T>(signal: AbortSignal, timeoutMs: number, fn: () => Promise<T>): Promise<T> => {
    const s = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    try {
      return await calls.run(s, fn)
    } catch (error) {
      // An abort during discovery surfaces as client-node's failed attempt to reword it.
      throw s.aborted ? s.reason : error
    }
  }
  return {
    kc,
    context,
    namespace,
    server,
    read: (r, signal, timeoutMs = 15_000) =>
      call(signal, timeoutMs, () => objects.read({apiVersion: r.apiVersion, kind: r.kind, metadata: {name: r.name, namespace: r.namespace ?? namespace}})),
    list: (r, signal, timeoutMs = 15_000) =>
      call(signal, timeoutMs, () =>
        objects.list(r.apiVersion, r.kind, r.clusterScoped ? undefined : (r.namespace ?? namespace), undefined, undefined, undefined, undefined, r.labelSelector),
      ),
    create: (spec, signal, timeoutMs = 15_000) => call(signal, timeoutMs, () => objects.create(spec)),
    version: (signal, timeoutMs = 15_000) => call(signal, timeoutMs, () => new k8s.VersionApi(configuration).getCode()),
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
