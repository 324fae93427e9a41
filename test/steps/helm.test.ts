/** The `helm` step kind with the real helm v4 against the sandbox's Kubernetes stand-in. */
import {mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {helmBinary} from '../../packages/sandbox/src/helm-binary.js'
import {startK8sStandIn, type K8sStandIn} from '../../packages/sandbox/src/kube-stand-in/server.js'
import helmKind, {renderedManifest, sha256} from '../../src/lib/steps/helm.js'
import {makeContext, runFails, type TestContext} from './context.js'

const NS = 'apps'

const CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: "1.0"\n',
  'values.yaml': 'replicas: 2\nimage: nginx:1.27\ntoken: s3cret-one\n',
  'templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: hello
`,
  'templates/secret.yaml': `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-token
data:
  token: {{ .Values.token | b64enc }}
`,
  'templates/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`,
  'templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}, helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
        ports: [{containerPort: 8080}]
`,
}

let k8s: K8sStandIn
let dir: string
let chart: string
let values: string
let childEnv: NodeJS.ProcessEnv

const environment = (o: {timeout?: string; kubeconfig?: string} = {}) => ({
  kubernetes: {namespace: NS, kubeconfig: o.kubeconfig ?? join(dir, 'kubeconfig')},
  helm: {
    releases: [
      {name: 'web', chart, values: [values], timeout: o.timeout ?? '30s'},
      {name: 'broken', chart, namespace: 'edge', values: [join(dir, 'values-broken.yaml')], timeout: '3s'},
    ],
  },
})
function context(o: {timeout?: string; dryRun?: boolean; signal?: AbortSignal} = {}): TestContext {
  const ctx = makeContext({environment: environment(o), dryRun: o.dryRun, stepId: 'helm', signal: o.signal})
  ctx.childEnv = childEnv
  return ctx
}
const inputs = (raw: Record<string, unknown>) => helmKind.inputs.parse(raw)
const deployment = () => k8s.store.find('apps/v1', 'Deployment', NS, 'web')
const mutations = (from: number) => k8s.requestLog.slice(from).filter((e) => !['GET', 'HEAD'].includes(e.method))
const helm = async (args: string[]) => {
  const r = await execa('helm', args, {env: childEnv, reject: false})
  if (r.exitCode !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}
const revisions = async () => JSON.parse(await helm(['history', 'web', '-n', NS, '-o', 'json'])).map((h: {revision: number; status: string}) => `${h.revision}:${h.status}`)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'helm-step-'))
  k8s = await startK8sStandIn({port: 0})
  await k8s.writeKubeconfig(join(dir, 'kubeconfig'))
  chart = join(dir, 'chart')
  for (const [file, text] of Object.entries(CHART)) {
    await mkdir(join(chart, file, '..'), {recursive: true})
    await writeFile(join(chart, file), text)
  }
  values = join(dir, 'values-sandbox.yaml')
  await writeFile(values, 'replicas: 2\n')
  // The real helm first on PATH, as the sandbox's tools.path puts it; its caches inside `dir`.
  const bin = join(dir, 'bin')
  await mkdir(bin)
  await symlink(await helmBinary(), join(bin, 'helm'))
  childEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    KUBECONFIG: join(dir, 'kubeconfig'),
    HOME: dir,
    HELM_CACHE_HOME: join(dir, 'helm-cache'),
    HELM_CONFIG_HOME: join(dir, 'helm-config'),
    HELM_DATA_HOME: join(dir, 'helm-data'),
  }
})

afterAll(async () => {
  await k8s?.close()
  if (dir) await rm(dir, {recursive: true, force: true})
})

describe('helm step kind', () => {
  it('describes itself: needs a cluster, mutates on upgrade only, titled by release', () => {
    expect(helmKind.needs).toEqual(['kubernetes'])
    expect(helmKind.mutates(inputs({release: 'web'}))).toBe(true)
    expect(helmKind.mutates(inputs({release: 'web', action: 'status'}))).toBe(false)
    expect(helmKind.title!(inputs({release: 'web'}))).toBe('Helm release web')
    expect(() => inputs({release: 'web', action: 'rollback'})).toThrow(/upgrade or status/)
  })

  it('plans a fresh release as all added, without a single mutating request', async () => {
    const from = k8s.requestLog.length
    const plan = await helmKind.plan(context({dryRun: true}), inputs({release: 'web'}))
    expect(plan.summary).toBe('install web (demo-0.1.0) in apps: 4 to add, 0 to change, 0 to remove')
    expect(plan.changes).toEqual([
      {action: 'create', target: 'Secret/apps/web-token'},
      {action: 'create', target: 'ConfigMap/apps/web-config'},
      {action: 'create', target: 'Service/apps/web'},
      {action: 'create', target: 'Deployment/apps/web'},
    ])
    expect(plan.observed).toEqual({revision: 0, manifestSha256: null})
    expect(plan.review).toContain('| create | Deployment/apps/web |')
    // helm read the cluster (the release records, the objects) and wrote nothing.
    expect(k8s.requestLog.slice(from).some((e) => e.path.includes('/secrets?labelSelector='))).toBe(true)
    expect(mutations(from)).toEqual([])
    expect(k8s.store.find('v1', 'Namespace', undefined, NS)).toBeUndefined()
    // The rendered manifest, for a caller to save.
    expect(await renderedManifest(context(), {release: 'web'})).toMatch(/kind: Deployment[\s\S]*replicas: 2/)
  })

  it('installs, waits for the Deployment, and reports revision, status, chart and the resources made', async () => {
    const ctx = context()
    const r = await helmKind.run(ctx, inputs({release: 'web'}))
    expect(r.outputs).toEqual({release: 'web', namespace: NS, revision: 1, status: 'deployed', chart: 'demo-0.1.0', appVersion: '1.0'})
    expect(r.changes?.map((c) => `${c.action} ${c.target}`)).toEqual([
      'create Secret/apps/web-token',
      'create ConfigMap/apps/web-config',
      'create Service/apps/web',
      'create Deployment/apps/web',
    ])
    expect(deployment()?.status).toMatchObject({readyReplicas: 2, availableReplicas: 2})
    expect(ctx.logs[0]).toBe(
      `$ helm upgrade --install web ${chart} -n apps --create-namespace -f ${values} --kubeconfig ${join(dir, 'kubeconfig')} --wait --timeout 30s --rollback-on-failure -o json`,
    )
    expect(ctx.notes).toEqual([{release: 'web', namespace: NS, fromRevision: 0}])
  })

  it('running again changes nothing: already in place', async () => {
    const from = k8s.requestLog.length
    const r = await helmKind.run(context(), inputs({release: 'web'}))
    expect(r.summary).toBe('already in place: release web revision 1 (demo-0.1.0) is deployed and renders as wanted')
    expect(r.changes).toEqual([])
    expect(mutations(from)).toEqual([])
    expect(await revisions()).toEqual(['1:deployed'])
    const plan = await helmKind.plan(context({dryRun: true}), inputs({release: 'web'}))
    expect(plan.changes).toEqual([{action: 'none', target: 'helm release apps/web'}])
    expect(plan.observed).toEqual({revision: 1, manifestSha256: sha256(await helm(['get', 'manifest', 'web', '-n', NS]))})
  })

  it('plans a values change as the changed fields of the changed resource, before → after', async () => {
    await writeFile(values, 'replicas: 3\nimage: nginx:1.28\n')
    const from = k8s.requestLog.length
    const plan = await helmKind.plan(context({dryRun: true}), inputs({release: 'web'}))
    expect(plan.summary).toBe(
      'upgrade web from revision 1 (demo-0.1.0): 0 to add, 1 to change (Deployment/web: spec.replicas 2 → 3, spec.template.spec.containers[name=web].image nginx:1.27 → nginx:1.28), 0 to remove',
    )
    expect(plan.changes).toEqual([
      {
        action: 'update',
        target: 'Deployment/apps/web',
        before: {'spec.replicas': 2, 'spec.template.spec.containers[name=web].image': 'nginx:1.27'},
        after: {'spec.replicas': 3, 'spec.template.spec.containers[name=web].image': 'nginx:1.28'},
        detail: 'spec.replicas 2 → 3; spec.template.spec.containers[name=web].image nginx:1.27 → nginx:1.28',
      },
    ])
    expect(plan.review).toContain('| `spec.replicas` | 2 | 3 |')
    expect(mutations(from)).toEqual([])
    // A Secret's values never reach the plan: it shows as changed, not what to.
    await writeFile(values, 'replicas: 3\nimage: nginx:1.28\ntoken: s3cret-two\n')
    const secret = await helmKind.plan(context({dryRun: true}), inputs({release: 'web'}))
    expect(secret.changes[0]).toEqual({
      action: 'update',
      target: 'Secret/apps/web-token',
      before: {'data.token': '(hidden)'},
      after: {'data.token': '(hidden)'},
      detail: 'data.token (hidden) → (hidden)',
    })
    const text = JSON.stringify(secret)
    for (const leak of ['s3cret', Buffer.from('s3cret-one').toString('base64'), Buffer.from('s3cret-two').toString('base64')]) expect(text).not.toContain(leak)
    expect(deployment()?.spec.replicas).toBe(2)
  })

  it('upgrades, and the change it made is the one planned; reconcile then finds it done', async () => {
    const r = await helmKind.run(context(), inputs({release: 'web'}))
    expect(r.outputs).toMatchObject({revision: 2, status: 'deployed'})
    expect(r.changes).toEqual([
      expect.objectContaining({action: 'update', target: 'Secret/apps/web-token', detail: 'data.token (hidden) → (hidden)'}),
      expect.objectContaining({action: 'update', target: 'Deployment/apps/web', detail: expect.stringContaining('spec.replicas 2 → 3')}),
    ])
    expect(deployment()?.spec.replicas).toBe(3)
    expect(deployment()?.status).toMatchObject({readyReplicas: 3})
    expect(await helmKind.reconcile!(context(), inputs({release: 'web'}))).toMatchObject({done: true, outputs: {revision: 2}})
    const status = await helmKind.run(context(), inputs({release: 'web', action: 'status'}))
    expect(status.outputs).toMatchObject({revision: 2, status: 'deployed', chart: 'demo-0.1.0'})
  })

  it('a failing upgrade is rolled back by helm, and the error names the failed revision and the one running now', async () => {
    // Pods of this image never become ready, so --wait times out and helm rolls back.
    k8s.setDeploymentHealth(NS, 'web', {ready: false, image: 'nginx:broken'})
    await writeFile(values, 'replicas: 3\nimage: nginx:broken\ntoken: s3cret-two\n')
    const err = await runFails(helmKind, context({timeout: '3s'}), inputs({release: 'web'}))
    expect(err.code).toBe('HELM_FAILED')
    expect(err.message).toMatch(
      /^helm upgrade of release web in apps failed: revision 3 failed \(Upgrade "web" failed: .+\); helm rolled back to revision 2 \(chart demo-0\.1\.0, recorded as revision 4\), which is what runs now\.$/,
    )
    expect(await revisions()).toEqual(['1:superseded', '2:superseded', '3:failed', '4:deployed'])
    expect(deployment()?.spec.template.spec.containers[0].image).toBe('nginx:1.28')
    // Not in place: the wanted values still say nginx:broken.
    expect(await helmKind.reconcile!(context(), inputs({release: 'web'}))).toEqual({done: false})
  })

  it('a failing install is uninstalled again by helm, and the error says nothing of it runs', async () => {
    await writeFile(join(dir, 'values-broken.yaml'), 'image: nginx:never\n')
    k8s.setDeploymentHealth('edge', 'broken', {ready: false})
    const err = await runFails(helmKind, context(), inputs({release: 'broken'}))
    expect(err.message).toMatch(/^helm upgrade of release broken in edge failed: installing it failed \(.*not ready.*\); helm uninstalled it again, so nothing of it runs now\.$/)
    expect(k8s.store.find('apps/v1', 'Deployment', 'edge', 'broken')).toBeUndefined()
  })

  it('after helm was killed mid-upgrade, reconcile says so with the rollback to run; plan refuses', async () => {
    const from = (await revisions()).length
    const child = execa('helm', ['upgrade', 'web', chart, '-n', NS, '-f', values, '--wait', '--timeout', '60s'], {env: childEnv, reject: false})
    const deadline = Date.now() + 20_000
    while (!(await revisions()).includes(`${from + 1}:pending-upgrade`)) {
      if (Date.now() > deadline) throw new Error('helm never reached pending-upgrade')
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGKILL')
    await child
    const r = await helmKind.reconcile!(context(), inputs({release: 'web'}))
    expect(r).toEqual({unknown: expect.stringContaining('is pending-upgrade at revision 5 (chart demo-0.1.0): a helm operation was interrupted')})
    expect((r as {unknown: string}).unknown).toContain('helm rollback web 4 -n apps --wait')
    const err = await helmKind.plan(context({dryRun: true}), inputs({release: 'web'})).catch((e: Error & {code?: string}) => e)
    expect(err).toMatchObject({code: 'HELM_FAILED', message: expect.stringContaining('pending-upgrade')})
    k8s.setDeploymentHealth(NS, 'web', {ready: true})
  })

  it('uses --atomic (helm v3 for --rollback-on-failure) with helm v3', async () => {
    // A stand-in helm v3 that answers as v3 does and records the upgrade's arguments.
    const bin = join(dir, 'bin-v3')
    await mkdir(bin, {recursive: true})
    const doc = JSON.stringify({version: 1, info: {status: 'deployed'}, manifest: '', chart: {metadata: {name: 'demo', version: '0.1.0', appVersion: '1.0'}}})
    const script = [
      '#!/bin/sh',
      'case "$1" in',
      '  version) echo "v3.15.4+gfa9efb0"; exit 0 ;;',
      '  history) echo "Error: release: not found" >&2; exit 1 ;;',
      `  upgrade) case "$*" in *--dry-run=server*) ;; *) echo "$@" > "${join(bin, 'args')}" ;; esac; echo 'Release "web" does not exist. Installing it now.'; echo '${doc}'; exit 0 ;;`,
      'esac',
      'exit 1',
    ].join('\n')
    await writeFile(join(bin, 'helm'), script, {mode: 0o755})
    const ctx = context()
    ctx.childEnv = {...childEnv, PATH: `${bin}:/usr/bin:/bin`}
    const r = await helmKind.run(ctx, inputs({release: 'web'}))
    expect(r.outputs).toMatchObject({revision: 1, status: 'deployed', chart: 'demo-0.1.0'})
    const args = (await readFile(join(bin, 'args'), 'utf8')).trim()
    expect(args).toBe(`upgrade --install web ${chart} -n apps --create-namespace -f ${values} --kubeconfig ${join(dir, 'kubeconfig')} --wait --timeout 30s --atomic -o json`)
  })

  it('refuses an unknown release name, listing the known ones, and says how to get helm when there is none', async () => {
    const err = await runFails(helmKind, context(), inputs({release: 'api'}))
    expect(err).toMatchObject({code: 'HELM_UNKNOWN_RELEASE'})
    expect(err.message).toBe(`helm release "api" is not in this environment's helm.releases (known: web, broken). Add it to clipper-ops.yaml or use one of those.`)
    const ctx = context()
    ctx.childEnv = {...childEnv, PATH: '/nonexistent'}
    const missing = await runFails(helmKind, ctx, inputs({release: 'web'}))
    expect(missing).toMatchObject({code: 'HELM_NOT_FOUND', message: expect.stringMatching(/^helm is not on PATH\. Install helm v4 .*https:\/\/helm\.sh\/docs\/intro\/install\//)})
  })
})
