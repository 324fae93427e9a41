/** gate-kubernetes against the sandbox's Kubernetes stand-in, through @kubernetes/client-node. */
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer, type Socket} from 'node:net'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {RESOURCES} from '../../packages/sandbox/src/kube-stand-in/resources.js'
import {startK8sStandIn, type K8sStandIn} from '../../packages/sandbox/src/kube-stand-in/server.js'
import {loadKubeConfig} from '../../src/lib/k8s/client.js'
import {deploymentManifest} from '../../packages/sandbox/test/kube-helpers.js'
import {kindWith, makeContext, runFails} from './context.js'

const NS = 'apps'
let k8s: K8sStandIn
let dir: string
let kubeconfig: string

const hpa = (name: string, target: string, min: number, max: number) => ({
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: {name, namespace: NS},
  spec: {scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: target}, minReplicas: min, maxReplicas: max, metrics: []},
})

const kubeconfigText = (server: string) =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: sandbox\n  context: {cluster: c, user: u}\ncurrent-context: sandbox\nusers:\n- name: u\n  user: {}\n`

const deployment = (name: string) => k8s.store.find('apps/v1', 'Deployment', NS, name)
async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
const available = (name: string) => () =>
  deployment(name)?.status?.availableReplicas === deployment(name)?.spec?.replicas && deployment(name)?.status?.updatedReplicas === deployment(name)?.spec?.replicas

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gate-k8s-'))
  k8s = await startK8sStandIn({port: 0})
  kubeconfig = join(dir, 'kubeconfig')
  await k8s.writeKubeconfig(kubeconfig)
  k8s.seed([
    {apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS}},
    deploymentManifest('web', NS, 2),
    deploymentManifest('worker', NS, 1),
    hpa('web-hpa', 'web', 2, 5),
    hpa('web-at-max', 'web', 1, 2),
  ])
  await until('web and worker available', () => available('web')() && available('worker')())
  await until('HPAs report', () => k8s.store.find('autoscaling/v2', 'HorizontalPodAutoscaler', NS, 'web-hpa')?.status?.currentReplicas === 2)
})

afterAll(async () => {
  await k8s?.close()
  if (dir) await rm(dir, {recursive: true, force: true})
})

const env = (over: Record<string, unknown> = {}) => ({kubernetes: {kubeconfig, context: 'sandbox', namespace: NS, deployments: ['web', 'worker'], hpas: ['web-hpa'], ...over}})

describe('gate-kubernetes', () => {
  it('passes when Deployments are available and HPAs within bounds; plan calls nothing', async () => {
    const {kind, inputs} = await kindWith('gate-kubernetes', {})
    const ctx = makeContext({environment: env()})
    const from = k8s.requestLog.length
    const plan = await kind.plan(ctx, inputs)
    expect(plan.summary).toContain('in namespace apps: Deployments web, worker available')
    expect(plan.summary).toContain('HPAs web-hpa within bounds, not at max; once')
    expect(k8s.requestLog.length).toBe(from)

    const r = await kind.run(ctx, inputs)
    expect(r.outputs).toMatchObject({
      context: 'sandbox',
      server: k8s.url,
      namespace: NS,
      evaluations: 1,
      deployments: [
        {name: 'web', replicas: 2, available: 2, updated: 2, availableCondition: 'True'},
        {name: 'worker', replicas: 1, available: 1, updated: 1, availableCondition: 'True'},
      ],
      pods: 3,
      crashLooping: [],
      hpas: [{name: 'web-hpa', current: 2, min: 2, max: 5}],
    })
    // Read-only: GETs and LISTs only.
    expect(k8s.requestLog.slice(from).every((e) => e.method === 'GET')).toBe(true)
  })

  it('fails when a Deployment loses availability during the watch', async () => {
    const {kind, inputs} = await kindWith('gate-kubernetes', {deployments: ['worker'], hpas: [], duration: '4s', interval: '100ms'})
    setTimeout(() => k8s.setDeploymentHealth(NS, 'worker', {ready: false}), 200)
    try {
      const err = await runFails(kind, makeContext({environment: env()}), inputs)
      expect(err.code).toBe('GATE_FAILED')
      expect(err.message).toContain('Deployment worker not fully available: 0/1 replicas available')
      expect(err.message).toContain('Available=False (MinimumReplicasUnavailable)')
      expect(err.details.deployments[0]).toMatchObject({name: 'worker', available: 0, availableCondition: 'False'})
      expect(err.details.evaluations).toBeGreaterThanOrEqual(2)
    } finally {
      k8s.setDeploymentHealth(NS, 'worker', {ready: true})
      await until('worker healthy again', available('worker'))
    }
  })

  it('fails on a crash loop, naming the pods and their restarts', async () => {
    k8s.setDeploymentHealth(NS, 'web', {crashLoop: true})
    try {
      await until('web crash-looping', () => (deployment('web')?.status?.availableReplicas ?? 2) === 0)
      const {kind, inputs} = await kindWith('gate-kubernetes', {hpas: []})
      const err = await runFails(kind, makeContext({environment: env()}), inputs)
      expect(err.code).toBe('GATE_FAILED')
      expect(err.message).toMatch(/2 container\(s\) in CrashLoopBackOff: web-[a-z0-9]+-[a-z0-9]+\/main \(restarts \d+/)
      expect(err.details.crashLooping).toHaveLength(2)
    } finally {
      k8s.setDeploymentHealth(NS, 'web', {crashLoop: false, ready: true})
      await until('web healthy again', available('web'))
    }
  })

  it('fails when a container restarts while the gate watches', async () => {
    const PODS = RESOURCES.find((r) => r.kind === 'Pod')!
    const {kind, inputs} = await kindWith('gate-kubernetes', {deployments: ['worker'], hpas: [], duration: '4s', interval: '100ms'})
    setTimeout(() => {
      // A restart between two looks: the container is running again, only its restartCount says so.
      const pod = k8s.store.list(PODS, NS).find((p) => p.metadata.name!.startsWith('worker-'))!
      const cs = pod.status.containerStatuses[0]
      k8s.seed([{...pod, status: {...pod.status, containerStatuses: [{...cs, restartCount: cs.restartCount + 1}]}}])
    }, 300)
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toMatch(/restarts during the watch: worker-[a-z0-9]+-[a-z0-9]+\/main 0 → 1/)
    // Tolerated with maxRestarts.
    const lenient = await kindWith('gate-kubernetes', {deployments: ['worker'], hpas: [], maxRestarts: 1})
    await expect(lenient.kind.run(makeContext({environment: env()}), lenient.inputs)).resolves.toBeDefined()
  })

  it('fails on an HPA pinned at its maximum unless allowed', async () => {
    const pinned = await kindWith('gate-kubernetes', {deployments: [], hpas: ['web-at-max']})
    const err = await runFails(pinned.kind, makeContext({environment: env()}), pinned.inputs)
    expect(err.code).toBe('GATE_FAILED')
    expect(err.message).toContain('HPA web-at-max is pinned at its maximum (2/2)')
    const allowed = await kindWith('gate-kubernetes', {deployments: [], hpas: ['web-at-max'], allowHpaAtMax: true})
    expect((await allowed.kind.run(makeContext({environment: env()}), allowed.inputs)).outputs).toMatchObject({hpas: [{name: 'web-at-max', current: 2, max: 2}]})
  })

  it('names what does not exist', async () => {
    const {kind, inputs} = await kindWith('gate-kubernetes', {deployments: ['web', 'webb'], hpas: ['nope']})
    const err = await runFails(kind, makeContext({environment: env()}), inputs)
    expect(err.code).toBe('NOT_FOUND')
    expect(err.message).toContain('Deployment webb not found in namespace apps')
    expect(err.message).toContain('HPA nope not found in namespace apps')
  })

  it('nothing to check, or an API server that is gone, is no data', async () => {
    const none = await kindWith('gate-kubernetes', {deployments: [], hpas: []})
    expect((await runFails(none.kind, makeContext({environment: env()}), none.inputs)).code).toBe('NO_DATA')

    const gone = await startK8sStandIn({port: 0})
    const file = join(dir, 'gone')
    await gone.writeKubeconfig(file)
    await gone.close()
    const {kind, inputs} = await kindWith('gate-kubernetes', {deployments: ['web'], hpas: []})
    const err = await runFails(kind, makeContext({environment: env({kubeconfig: file})}), inputs)
    expect(err.code).toBe('NO_DATA')
    expect(err.message).toContain('could not read Deployment web from')
    expect(err.message).toContain('ECONNREFUSED')
  })

  it('gives up on an API server that does not answer after the per-call timeout', async () => {
    const sockets: Socket[] = []
    const hung = createServer((s) => void sockets.push(s)) // accepts connections, never answers
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r))
    try {
      const file = join(dir, 'hung')
      await writeFile(file, kubeconfigText(`http://127.0.0.1:${(hung.address() as AddressInfo).port}`))
      const {kind, inputs} = await kindWith('gate-kubernetes', {deployments: ['web'], hpas: [], timeout: '300ms'})
      const started = Date.now()
      const err = await runFails(kind, makeContext({environment: env({kubeconfig: file})}), inputs)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(err.code).toBe('NO_DATA')
      expect(err.message).toContain('could not read Deployment web from')
      expect(err.message).toContain('no answer within 300ms')
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => hung.close(r))
    }
  })

  it('loadKubeConfig: the configured file and context, with clear errors', async () => {
    const kc = await loadKubeConfig(env() as never)
    expect(kc.getCurrentContext()).toBe('sandbox')
    await expect(loadKubeConfig({kubernetes: {kubeconfig, context: 'prod', namespace: 'default', deployments: [], hpas: []}} as never)).rejects.toThrow(
      'kubeconfig has no context "prod" (it has: sandbox)',
    )
    await expect(loadKubeConfig({kubernetes: {kubeconfig: join(dir, 'missing'), namespace: 'default', deployments: [], hpas: []}} as never)).rejects.toThrow('does not exist')
  })
})
