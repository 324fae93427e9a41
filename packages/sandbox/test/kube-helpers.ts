/** Shared helpers for the Kubernetes stand-in tests (not a test file itself). */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {startK8sStandIn, type K8sStandIn} from '../src/kube-stand-in/server.js'

export interface Sandbox {
  k8s: K8sStandIn
  dir: string
  kubeconfig: string
  /** Environment for child processes: KUBECONFIG plus kubectl/helm caches inside `dir`, so nothing lands in $HOME. */
  env: Record<string, string>
  cleanup(): Promise<void>
}

export async function startSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-standin-'))
  const k8s = await startK8sStandIn({port: 0})
  const kubeconfig = join(dir, 'kubeconfig')
  await k8s.writeKubeconfig(kubeconfig)
  const env = {
    KUBECONFIG: kubeconfig,
    KUBECACHEDIR: join(dir, 'kube-cache'),
    HOME: dir,
    HELM_CACHE_HOME: join(dir, 'helm-cache'),
    HELM_CONFIG_HOME: join(dir, 'helm-config'),
    HELM_DATA_HOME: join(dir, 'helm-data'),
  }
  return {
    k8s,
    dir,
    kubeconfig,
    env,
    async cleanup() {
      await k8s.close()
      await rm(dir, {recursive: true, force: true})
    },
  }
}

/** Run the system kubectl (v1.32) against the sandbox; never throws, returns the result. */
export async function kubectl(sb: Sandbox, args: string[], input?: string) {
  return execa('/usr/bin/kubectl', args, {env: sb.env, extendEnv: true, reject: false, input, timeout: 60_000})
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface Manifest {
  apiVersion: string
  kind: string
  metadata: {name: string; namespace: string; labels: Record<string, string>}
  spec: Record<string, unknown>
}

export function deploymentManifest(name: string, namespace: string, replicas = 2, image = 'nginx:1.27'): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, namespace, labels: {app: name}},
    spec: {
      replicas,
      selector: {matchLabels: {app: name}},
      template: {metadata: {labels: {app: name, tier: 'web'}}, spec: {containers: [{name: 'main', image, ports: [{containerPort: 8080}]}]}},
    },
  }
}

/** Plain HTTP call to the stand-in, parsing JSON answers. */
export async function call(k8s: K8sStandIn, method: string, path: string, opts: {body?: unknown; contentType?: string; accept?: string} = {}) {
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body)
  const res = await fetch(k8s.url + path, {
    method,
    body,
    headers: {...(body !== undefined && {'content-type': opts.contentType ?? 'application/json'}), ...(opts.accept && {accept: opts.accept})},
  })
  const text = await res.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return {status: res.status, json, text, headers: res.headers}
}
