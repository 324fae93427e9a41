/** The real kubectl (system /usr/bin/kubectl, v1.32) against the Kubernetes stand-in. */
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {deploymentManifest, kubectl, startSandbox, waitFor, type Sandbox} from './kube-helpers.js'

describe('k8s stand-in: kubectl', () => {
  let sb: Sandbox
  let manifest: string
  beforeAll(async () => {
    sb = await startSandbox()
    manifest = join(sb.dir, 'deploy.yaml')
  })
  afterAll(async () => {
    await sb?.cleanup()
  })

  const ok = async (args: string[]): Promise<string> => {
    const r = await kubectl(sb, args)
    if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`)
    return String(r.stdout)
  }

  it('gets namespaces and creates one (a protobuf POST)', async () => {
    const out = await ok(['get', 'ns'])
    expect(out).toMatch(/^NAME\s+STATUS\s+AGE/)
    expect(out).toMatch(/default\s+Active/)
    expect(out).toMatch(/kube-system\s+Active/)
    expect(await ok(['create', 'namespace', 'shop'])).toContain('namespace/shop created')
    expect(JSON.parse(await ok(['get', 'ns', 'shop', '-o', 'json'])).status.phase).toBe('Active')
    const again = await kubectl(sb, ['create', 'namespace', 'shop'])
    expect(again.exitCode).not.toBe(0)
    expect(again.stderr).toContain('AlreadyExists')
  })

  it('applies a Deployment and shows the controller-made ReplicaSet and Pods', async () => {
    await writeFile(manifest, stringify(deploymentManifest('web', 'shop', 2)))
    expect(await ok(['apply', '-f', manifest])).toContain('deployment.apps/web created')
    await ok(['rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=20s'])
    const list = JSON.parse(await ok(['get', 'deploy,pods,rs', '-n', 'shop', '-o', 'json']))
    const byKind = (k: string): any[] => list.items.filter((i: {kind: string}) => i.kind === k)
    const [deploy] = byKind('Deployment')
    const [rs] = byKind('ReplicaSet')
    expect(deploy.status).toMatchObject({readyReplicas: 2, availableReplicas: 2, observedGeneration: 1})
    expect(rs.metadata.ownerReferences[0]).toMatchObject({kind: 'Deployment', uid: deploy.metadata.uid, controller: true})
    expect(byKind('Pod')).toHaveLength(2)
    expect(byKind('Pod').every((p) => p.status.phase === 'Running' && p.metadata.ownerReferences[0].uid === rs.metadata.uid)).toBe(true)

    const all = await ok(['get', 'all', '-n', 'shop'])
    expect(all).toContain('deployment.apps/web')
    expect(all).toContain('replicaset.apps/web-')
    expect(all).toMatch(/pod\/web-\S+\s+1\/1\s+Running\s+0/)
    expect(all).toMatch(/deployment\.apps\/web\s+2\/2\s+2\s+2/)
  })

  it('rolls out a changed template, server-side applies, scales and rolls back', async () => {
    await writeFile(manifest, stringify(deploymentManifest('web', 'shop', 2, 'nginx:1.28')))
    expect(await ok(['apply', '-f', manifest])).toContain('configured')
    expect(await ok(['rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=20s'])).toContain('successfully rolled out')
    const rs = JSON.parse(await ok(['get', 'rs', '-n', 'shop', '-o', 'json'])).items
    expect(rs.map((r: {spec: {replicas: number}}) => r.spec.replicas).sort()).toEqual([0, 2])

    expect(await ok(['apply', '--server-side', '-f', manifest])).toContain('serverside-applied')
    expect(JSON.parse(await ok(['get', 'deploy', 'web', '-n', 'shop', '-o', 'json'])).metadata.generation).toBe(2)
    await ok(['scale', 'deploy/web', '-n', 'shop', '--replicas=3'])
    await ok(['rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=20s'])
    expect(JSON.parse(await ok(['get', 'pods', '-n', 'shop', '-l', 'app=web', '-o', 'json'])).items).toHaveLength(3)

    await ok(['rollout', 'undo', 'deploy/web', '-n', 'shop'])
    await ok(['rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=20s'])
    const image = await ok(['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])
    expect(image).toBe('nginx:1.27')
    // The rollback reused the first ReplicaSet instead of making a third.
    expect(JSON.parse(await ok(['get', 'rs', '-n', 'shop', '-o', 'json'])).items).toHaveLength(2)
  })

  it('creates ConfigMaps, Secrets, Services and Jobs imperatively (protobuf bodies)', async () => {
    await ok(['create', 'configmap', 'settings', '-n', 'shop', '--from-literal=mode=test'])
    await ok(['create', 'secret', 'generic', 'creds', '-n', 'shop', '--from-literal=password=s3cret'])
    await ok(['create', 'service', 'clusterip', 'web', '-n', 'shop', '--tcp=80:8080'])
    await ok(['create', 'job', 'migrate', '-n', 'shop', '--image=busybox', '--', 'true'])
    expect(JSON.parse(await ok(['get', 'cm', 'settings', '-n', 'shop', '-o', 'json'])).data).toEqual({mode: 'test'})
    const secret = JSON.parse(await ok(['get', 'secret', 'creds', '-n', 'shop', '-o', 'json']))
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('s3cret')
    expect(await ok(['get', 'svc', 'web', '-n', 'shop'])).toMatch(/web\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP/)
    expect(await ok(['wait', '--for=condition=complete', 'job/migrate', '-n', 'shop', '--timeout=10s'])).toContain('condition met')
  })

  it('does not report a rollout done while the Deployment is unhealthy', async () => {
    await writeFile(manifest, stringify(deploymentManifest('sick', 'shop', 2)))
    await ok(['apply', '-f', manifest])
    await ok(['rollout', 'status', 'deploy/sick', '-n', 'shop', '--timeout=20s'])

    sb.k8s.setDeploymentHealth('shop', 'sick', {ready: false})
    await waitFor(() => sb.k8s.store.find('apps/v1', 'Deployment', 'shop', 'sick')?.status?.availableReplicas === 0, 5000, 'unavailable')
    const started = Date.now()
    const r = await kubectl(sb, ['rollout', 'status', 'deploy/sick', '-n', 'shop', '--timeout=3s'])
    expect(r.exitCode).not.toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500) // it waited rather than succeeding
    expect(r.stdout + r.stderr).toMatch(/Waiting for deployment "sick" rollout to finish: 0 of 2 updated replicas are available/)
    expect(r.stderr).toContain('timed out')
    expect(await ok(['get', 'deploy', 'sick', '-n', 'shop'])).toMatch(/sick\s+0\/2\s+2\s+0/)
  })

  it('keeps the old pods serving during a bad release, until it is undone', async () => {
    sb.k8s.setDeploymentHealth('shop', 'sick', {ready: true})
    await ok(['rollout', 'status', 'deploy/sick', '-n', 'shop', '--timeout=20s'])
    sb.k8s.setDeploymentHealth('shop', 'sick', {ready: false, image: 'nginx:broken'})
    await ok(['set', 'image', 'deploy/sick', '-n', 'shop', 'main=nginx:broken'])
    const r = await kubectl(sb, ['rollout', 'status', 'deploy/sick', '-n', 'shop', '--timeout=2s'])
    expect(r.exitCode).not.toBe(0)
    const d = JSON.parse(await ok(['get', 'deploy', 'sick', '-n', 'shop', '-o', 'json']))
    expect(d.status).toMatchObject({replicas: 4, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2})
    expect(d.status.conditions.find((c: {type: string}) => c.type === 'Available').status).toBe('True')
    await ok(['rollout', 'undo', 'deploy/sick', '-n', 'shop'])
    expect(await ok(['rollout', 'status', 'deploy/sick', '-n', 'shop', '--timeout=20s'])).toContain('successfully rolled out')
  })

  it('shows CrashLoopBackOff and fails a rollout at its progress deadline', async () => {
    const d = deploymentManifest('crashy', 'shop', 1)
    ;(d.spec as Record<string, unknown>).progressDeadlineSeconds = 2
    await writeFile(manifest, stringify(d))
    sb.k8s.setDeploymentHealth('shop', 'crashy', {crashLoop: true}) // knobs may be set before the Deployment exists
    await ok(['apply', '-f', manifest])
    const r = await kubectl(sb, ['rollout', 'status', 'deploy/crashy', '-n', 'shop', '--timeout=20s'])
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toContain('exceeded its progress deadline')
    expect(await ok(['get', 'pods', '-n', 'shop', '-l', 'app=crashy'])).toMatch(/crashy-\S+\s+0\/1\s+CrashLoopBackOff/)
  })

  it('deletes: a Deployment takes its ReplicaSets and Pods with it, a namespace its contents', async () => {
    expect(await ok(['delete', 'deploy', 'web', '-n', 'shop'])).toContain('deployment.apps "web" deleted')
    expect(JSON.parse(await ok(['get', 'rs,pods', '-n', 'shop', '-l', 'app=web', '-o', 'json'])).items).toHaveLength(0)
    expect(await ok(['delete', 'namespace', 'shop'])).toContain('namespace "shop" deleted')
    expect((await kubectl(sb, ['get', 'ns', 'shop'])).stderr).toContain('NotFound')
    expect(sb.k8s.store.list(sb.k8s.store.resourceOf({apiVersion: 'v1', kind: 'Pod'}), 'shop')).toHaveLength(0)
  })
})
