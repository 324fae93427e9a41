/**
 * A Kubernetes API stand-in for the sandbox: a plain-HTTP server on loopback that the real
 * `kubectl`, `helm` (v4) and `@kubernetes/client-node` talk to unchanged, backed by an
 * in-memory store and a few small controllers. See /work/shared/notes/kubernetes-stand-in.md
 * for the measured facts this is built on.
 *
 *   const k8s = await startK8sStandIn()
 *   await k8s.writeKubeconfig('/tmp/x/kubeconfig')
 *   // ... KUBECONFIG=/tmp/x/kubeconfig kubectl get ns
 *   await k8s.close()
 *
 * Modules: resources.ts (the kinds served, Status errors), store.ts (objects, global
 * resourceVersion, event log, defaulting, garbage collection), api.ts (routing and verbs),
 * patch.ts, protobuf.ts, selectors.ts, discovery.ts (discovery and OpenAPI v3), watch.ts,
 * table.ts (kubectl's server-side columns), controllers.ts (Deployments, Jobs, HPAs, ...).
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import {dirname} from 'node:path'
import {handleRequest, sendJson} from './api.js'
import {Controllers, type DeploymentHealth} from './controllers.js'
import {ApiError} from './resources.js'
import {ObjectStore, type K8sObject} from './store.js'
import {listen} from '../listen.js'

export {ObjectStore} from './store.js'
export type {K8sObject, StoreEvent} from './store.js'
export type {DeploymentHealth} from './controllers.js'

export interface RequestLogEntry {
  time: string
  method: string
  /** The request target: path and query string, e.g. `/api/v1/namespaces/apps/secrets?labelSelector=owner%3Dhelm`. */
  path: string
  status: number
}

export interface K8sStandIn {
  url: string
  port: number
  /** Every request, in arrival order (watches are logged when they start streaming). */
  requestLog: RequestLogEntry[]
  /** The object store, for seeding and mutating objects directly (writes are seen by watches and controllers). */
  store: ObjectStore
  /** Close the listener, end open watches and drop kept-alive connections. */
  close(): Promise<void>
  /**
   * Write a kubeconfig for plain HTTP without auth; context (and cluster and user) name default
   * "sandbox". It sets `insecure-skip-tls-verify: true` because @kubernetes/client-node v2
   * refuses http:// servers otherwise; kubectl and helm ignore it for plain HTTP.
   */
  writeKubeconfig(file: string, opts?: {context?: string; namespace?: string}): Promise<void>
  /** Create or replace objects of any kind the stand-in serves (status included, if given). */
  seed(objects: object[]): void
  /** Create or replace a Node with a kubelet-like status (Ready unless `ready: false`); returns it as stored. */
  putNode(name: string, opts?: NodeOptions): K8sObject
  /**
   * Fault knob: {ready:false} keeps the Deployment's pods unready; {crashLoop:true} crash-loops
   * them; {ready:true, crashLoop:false} heals. May be set before the Deployment exists. With
   * `image`, only pods running that image are affected, so a rollback away from it recovers.
   */
  setDeploymentHealth(namespace: string, name: string, h: DeploymentHealth): void
}

export async function startK8sStandIn(opts: {port?: number; host?: string} = {}): Promise<K8sStandIn> {
  const host = opts.host ?? '127.0.0.1'
  const store = new ObjectStore()
  const controllers = new Controllers(store)
  const requestLog: RequestLogEntry[] = []
  const openWatches = new Set<ServerResponse>()
  let address = ''

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Read the whole body before answering, also for DELETE and for early errors: unread
    // bytes would be parsed as the start of the next request on the kept-alive connection.
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => res.destroy())
    req.on('end', () => {
      const entry: RequestLogEntry = {time: new Date().toISOString(), method: req.method ?? 'GET', path: req.url ?? '/', status: 0}
      requestLog.push(entry)
      try {
        handleRequest({store, address, openWatches}, req, res, Buffer.concat(chunks))
      } catch (error) {
        if (res.headersSent) res.destroy()
        else if (error instanceof ApiError) sendJson(res, error.code, error.toStatus())
        else sendJson(res, 500, new ApiError(500, 'InternalError', `stand-in error: ${(error as Error).message}`).toStatus())
      }
      entry.status = res.statusCode
    })
  })
  server.keepAliveTimeout = 30_000

  const {port, url} = await listen(server, opts.port, host)
  address = url.slice('http://'.length)

  for (const o of initialObjects()) store.put(o)
  // Settle the seeded objects' controllers before the first client arrives.
  controllers.reconcileAll()

  let closing: Promise<void> | undefined
  return {
    url,
    port,
    requestLog,
    store,
    seed(objects: object[]): void {
      for (const o of objects) store.put(o as K8sObject)
    },
    putNode(name: string, o: NodeOptions = {}): K8sObject {
      return store.put(nodeObject(name, o))
    },
    setDeploymentHealth(namespace: string, name: string, h: DeploymentHealth): void {
      controllers.setDeploymentHealth(namespace, name, h)
    },
    async writeKubeconfig(file: string, o: {context?: string; namespace?: string} = {}): Promise<void> {
      const name = JSON.stringify(o.context ?? 'sandbox')
      const text = [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: ${name}`,
        '  cluster:',
        `    server: ${JSON.stringify(url)}`,
        // Meaningless for plain HTTP, but @kubernetes/client-node refuses http:// servers without it.
        '    insecure-skip-tls-verify: true',
        'contexts:',
        `- name: ${name}`,
        '  context:',
        `    cluster: ${name}`,
        `    user: ${name}`,
        `    namespace: ${JSON.stringify(o.namespace ?? 'default')}`,
        `current-context: ${name}`,
        'users:',
        `- name: ${name}`,
        '  user: {}',
        'preferences: {}',
        '',
      ].join('\n')
      await mkdir(dirname(file), {recursive: true})
      await writeFile(file, text, {mode: 0o600})
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        controllers.close()
        server.close(() => resolve())
        for (const w of openWatches) w.end()
        openWatches.clear()
        // Idle kept-alive sockets (and any request still in flight) would hold close() open.
        server.closeAllConnections()
      })
      return closing
    },
  }
}

export interface NodeOptions {
  /** InternalIP; default one in 172.18.1.0/24 derived from the name. */
  ip?: string
  zone?: string
  instanceType?: string
  /** false: the kubelet reports NotReady. */
  ready?: boolean
  labels?: Record<string, string>
}

/** A Node as a kubelet registers it (labels, capacity, conditions, addresses). */
export function nodeObject(name: string, o: NodeOptions = {}): K8sObject {
  const ip = o.ip ?? `172.18.1.${([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 250, 7) % 250) + 2}`
  const ready = o.ready !== false
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': o.instanceType ?? 'm6i.large',
        'topology.kubernetes.io/zone': o.zone ?? 'eu-west-1a',
        ...o.labels,
      },
    },
    spec: {podCIDR: '10.244.0.0/24'},
    status: {
      conditions: [
        {type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available'},
        {type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure'},
        {type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available'},
        ready
          ? {type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status'}
          : {type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.'},
      ],
      addresses: [
        {type: 'InternalIP', address: ip},
        {type: 'Hostname', address: name},
      ],
      capacity: {cpu: '2', memory: '8039936Ki', pods: '110', 'ephemeral-storage': '52416492Ki'},
      allocatable: {cpu: '2', memory: '7937536Ki', pods: '110', 'ephemeral-storage': '48307982Ki'},
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Sandbox Linux',
        kernelVersion: '6.1.0',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: 'v1.32.0',
        kubeProxyVersion: 'v1.32.0',
        machineID: name,
        systemUUID: name,
        bootID: name,
      },
    },
  }
}

/** What a fresh cluster has: the system namespaces, two Ready nodes and the `kubernetes` Service. */
function initialObjects(): K8sObject[] {
  const ns = (name: string): K8sObject => ({apiVersion: 'v1', kind: 'Namespace', metadata: {name}})
  return [
    ns('default'),
    ns('kube-system'),
    ns('kube-public'),
    ns('kube-node-lease'),
    nodeObject('sandbox-node-1', {ip: '172.18.0.2', zone: 'eu-west-1a'}),
    nodeObject('sandbox-node-2', {ip: '172.18.0.3', zone: 'eu-west-1b'}),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name: 'kubernetes', namespace: 'default', labels: {component: 'apiserver', provider: 'kubernetes'}},
      spec: {clusterIP: '10.96.0.1', ports: [{name: 'https', port: 443, protocol: 'TCP', targetPort: 6443}]},
    },
  ]
}
