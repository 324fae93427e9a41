/**
 * The Kubernetes stand-in at the protocol level and through @kubernetes/client-node.
 * kubectl and helm have their own files (k8s-kubectl.test.ts, k8s-helm.test.ts).
 */
import {request, Agent} from 'node:http'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  PatchStrategy,
  Watch,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node'
import {startK8sStandIn} from '../src/kube-stand-in/server.js'
import {call, deploymentManifest, startSandbox, waitFor, type Sandbox} from './kube-helpers.js'

// --- a tiny protobuf encoder, to send what client-go sends --------------------------------------
function varint(n: number): number[] {
  const out: number[] = []
  while (n > 127) {
    out.push((n & 127) | 128)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}
function field(num: number, value: Buffer | string | number | boolean): Buffer {
  if (typeof value === 'number' || typeof value === 'boolean') return Buffer.from([...varint(num * 8), ...varint(Number(value))])
  const b = typeof value === 'string' ? Buffer.from(value) : value
  return Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(b.length)]), b])
}
const msg = (...parts: Buffer[]): Buffer => Buffer.concat(parts)
const entry = (num: number, k: string, v: string | Buffer): Buffer => field(num, msg(field(1, k), field(2, v)))
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), field(1, msg(field(1, apiVersion), field(2, kind))), field(2, raw)])
/** ObjectMeta as Go writes it: empty strings and a zero creationTimestamp included. */
const meta = (name: string, namespace: string, labels: Record<string, string> = {}): Buffer =>
  msg(field(1, name), field(2, ''), field(3, namespace), field(6, ''), field(8, msg()), ...Object.entries(labels).map(([k, v]) => entry(11, k, v)))
const PB = 'application/vnd.kubernetes.protobuf'

describe('k8s stand-in: protocol', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox()
  })
  afterAll(async () => {
    await sb?.cleanup()
  })

  it('serves version, discovery (with the "all" category) and tiny OpenAPI v3 documents', async () => {
    const {k8s} = sb
    expect((await call(k8s, 'GET', '/version')).json.gitVersion).toMatch(/^v1\.\d+\.\d+$/)
    expect((await call(k8s, 'GET', '/api')).json.versions).toEqual(['v1'])
    const groups = (await call(k8s, 'GET', '/apis')).json.groups.map((g: {name: string}) => g.name)
    expect(groups).toEqual(expect.arrayContaining(['apps', 'autoscaling', 'networking.k8s.io', 'coordination.k8s.io']))
    const core = (await call(k8s, 'GET', '/api/v1')).json
    const pods = core.resources.find((r: {name: string}) => r.name === 'pods')
    expect(pods).toMatchObject({kind: 'Pod', namespaced: true, categories: ['all'], shortNames: ['po']})
    const apps = (await call(k8s, 'GET', '/apis/apps/v1')).json
    expect(apps.resources.map((r: {name: string}) => r.name)).toEqual(expect.arrayContaining(['deployments', 'deployments/status', 'deployments/scale', 'replicasets']))

    const index = (await call(k8s, 'GET', '/openapi/v3')).json
    expect(index.paths['apis/apps/v1'].serverRelativeURL).toMatch(/^\/openapi\/v3\/apis\/apps\/v1\?hash=/)
    const doc = (await call(k8s, 'GET', index.paths['apis/apps/v1'].serverRelativeURL)).json
    const op = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch
    expect(op['x-kubernetes-group-version-kind']).toEqual({group: 'apps', version: 'v1', kind: 'Deployment'})
    expect(op.parameters.map((p: {name: string}) => p.name)).toContain('fieldValidation')
    expect((await call(k8s, 'GET', '/openapi/v2')).status).toBe(404)
  })

  it('starts with default and kube-system namespaces and Ready nodes', async () => {
    const ns = (await call(sb.k8s, 'GET', '/api/v1/namespaces')).json
    expect(ns.items.map((n: {metadata: {name: string}}) => n.metadata.name)).toEqual(expect.arrayContaining(['default', 'kube-system']))
    expect(ns.items.every((n: {status: {phase: string}}) => n.status.phase === 'Active')).toBe(true)
    const nodes = (await call(sb.k8s, 'GET', '/api/v1/nodes')).json.items
    expect(nodes.length).toBeGreaterThanOrEqual(1)
    expect(nodes[0].status.conditions.find((c: {type: string}) => c.type === 'Ready').status).toBe('True')
  })

  it('decodes protobuf Namespace, Secret, ConfigMap and DeleteOptions bodies', async () => {
    const {k8s} = sb
    let r = await call(k8s, 'POST', '/api/v1/namespaces', {body: envelope('v1', 'Namespace', msg(field(1, meta('pb', '')))), contentType: PB})
    expect(r.status).toBe(201)
    expect(r.json.metadata.name).toBe('pb')
    expect(r.json.status.phase).toBe('Active')

    const secret = msg(field(1, meta('s1', 'pb', {owner: 'helm', name: 'rel'})), entry(2, 'release', Buffer.from([0, 1, 2, 255])), field(3, 'helm.sh/release.v1'))
    r = await call(k8s, 'POST', '/api/v1/namespaces/pb/secrets', {body: envelope('v1', 'Secret', secret), contentType: PB, accept: `${PB}, application/json`})
    expect(r.status).toBe(201)
    expect(r.headers.get('content-type')).toBe('application/json')
    expect(r.json).toMatchObject({
      kind: 'Secret',
      type: 'helm.sh/release.v1',
      data: {release: Buffer.from([0, 1, 2, 255]).toString('base64')},
      metadata: {labels: {owner: 'helm', name: 'rel'}},
    })
    expect(r.json.metadata.creationTimestamp).toMatch(/Z$/)

    // PUT with protobuf too (helm updates the release status this way), then list by labels.
    const updated = msg(field(1, msg(meta('s1', 'pb', {owner: 'helm', name: 'rel', status: 'deployed'}))), entry(2, 'release', Buffer.from('x')))
    expect((await call(k8s, 'PUT', '/api/v1/namespaces/pb/secrets/s1', {body: envelope('v1', 'Secret', updated), contentType: PB})).status).toBe(200)
    const listed = await call(k8s, 'GET', '/api/v1/namespaces/pb/secrets?labelSelector=owner%3Dhelm,status%3Ddeployed')
    expect(listed.json.items.map((s: {metadata: {name: string}}) => s.metadata.name)).toEqual(['s1'])

    const cm = msg(field(1, meta('c1', 'pb')), entry(2, 'k', 'v'), entry(3, 'bin', Buffer.from('hi')))
    r = await call(k8s, 'POST', '/api/v1/namespaces/pb/configmaps', {body: envelope('v1', 'ConfigMap', cm), contentType: PB})
    expect(r.json).toMatchObject({data: {k: 'v'}, binaryData: {bin: Buffer.from('hi').toString('base64')}})

    const del = msg(field(4, 'Background'))
    r = await call(k8s, 'DELETE', '/api/v1/namespaces/pb/configmaps/c1', {body: envelope('v1', 'DeleteOptions', del), contentType: PB})
    expect(r.status).toBe(200)
    expect((await call(k8s, 'GET', '/api/v1/namespaces/pb/configmaps/c1')).status).toBe(404)
  })

  it('answers conflicts and misses with Status objects (AlreadyExists, Conflict, NotFound)', async () => {
    const {k8s} = sb
    const cm = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'c2'}, data: {a: '1'}}
    const created = await call(k8s, 'POST', '/api/v1/namespaces/default/configmaps', {body: cm})
    expect(created.status).toBe(201)
    const again = await call(k8s, 'POST', '/api/v1/namespaces/default/configmaps', {body: cm})
    expect(again.status).toBe(409)
    expect(again.json).toMatchObject({kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, details: {name: 'c2', kind: 'configmaps'}})

    const ok = await call(k8s, 'PUT', '/api/v1/namespaces/default/configmaps/c2', {body: {...created.json, data: {a: '2'}}})
    expect(ok.status).toBe(200)
    const stale = await call(k8s, 'PUT', '/api/v1/namespaces/default/configmaps/c2', {body: {...created.json, data: {a: '3'}}})
    expect(stale.status).toBe(409)
    expect(stale.json.reason).toBe('Conflict')

    const missing = await call(k8s, 'GET', '/apis/apps/v1/namespaces/default/deployments/nope')
    expect(missing.status).toBe(404)
    expect(missing.json).toMatchObject({kind: 'Status', reason: 'NotFound', message: 'deployments.apps "nope" not found'})
    const noNs = await call(k8s, 'POST', '/api/v1/namespaces/ghost/configmaps', {body: cm})
    expect(noNs.status).toBe(404)
    expect(noNs.json.message).toBe('namespaces "ghost" not found')
  })

  it('reads every request body, so a kept-alive connection survives DELETE bodies and error answers', async () => {
    const agent = new Agent({keepAlive: true, maxSockets: 1})
    const send = (method: string, path: string, body?: string): Promise<{status: number; socket: unknown}> =>
      new Promise((resolve, reject) => {
        const req = request(sb.k8s.url + path, {method, agent, headers: body ? {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)} : {}}, (res) => {
          res.resume()
          res.on('end', () => resolve({status: res.statusCode ?? 0, socket: req.socket}))
        })
        req.on('error', reject)
        req.end(body)
      })
    const big = JSON.stringify({kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', padding: 'x'.repeat(100_000)})
    const a = await send('DELETE', '/api/v1/namespaces/default/configmaps/does-not-exist', big)
    const b = await send('POST', '/api/v1/namespaces/default/configmaps', '{not json')
    const c = await send('GET', '/api/v1/namespaces/default')
    agent.destroy()
    expect([a.status, b.status, c.status]).toEqual([404, 400, 200])
    expect(a.socket).toBe(c.socket) // one connection carried all three
  })

  it('patches with JSON merge, strategic merge (containers merge by name), JSON patch and server-side apply', async () => {
    const {k8s} = sb
    const base = '/apis/apps/v1/namespaces/default/deployments'
    const d = deploymentManifest('patchy', 'default', 1)
    // Server-side apply creates when missing ...
    let r = await call(k8s, 'PATCH', `${base}/patchy?fieldManager=helm&fieldValidation=Strict&force=false`, {body: d, contentType: 'application/apply-patch+yaml'})
    expect(r.status).toBe(201)
    const uid = r.json.metadata.uid
    await waitFor(async () => (await call(k8s, 'GET', `${base}/patchy`)).json.status?.readyReplicas === 1, 5000, 'patchy ready')

    r = await call(k8s, 'PATCH', `${base}/patchy`, {
      body: {
        spec: {
          template: {
            spec: {
              containers: [
                {name: 'main', env: [{name: 'A', value: '1'}]},
                {name: 'sidecar', image: 'busybox'},
              ],
            },
          },
        },
      },
      contentType: 'application/strategic-merge-patch+json',
    })
    expect(r.status).toBe(200)
    const containers = r.json.spec.template.spec.containers
    expect(containers.map((c: {name: string}) => c.name)).toEqual(['main', 'sidecar'])
    expect(containers[0]).toMatchObject({image: 'nginx:1.27', env: [{name: 'A', value: '1'}]})
    expect(r.json.metadata.generation).toBe(2)

    r = await call(k8s, 'PATCH', `${base}/patchy`, {body: {metadata: {labels: {extra: 'yes'}}}, contentType: 'application/merge-patch+json'})
    expect(r.json.metadata.labels).toEqual({app: 'patchy', extra: 'yes'})
    expect(r.json.metadata.generation).toBe(2) // metadata-only change: no new generation

    r = await call(k8s, 'PATCH', `${base}/patchy`, {body: [{op: 'replace', path: '/spec/replicas', value: 3}], contentType: 'application/json-patch+json'})
    expect(r.json.spec.replicas).toBe(3)

    // ... and replaces when present, keeping uid and the controller-owned status.
    r = await call(k8s, 'PATCH', `${base}/patchy?fieldManager=helm`, {body: deploymentManifest('patchy', 'default', 2), contentType: 'application/apply-patch+yaml'})
    expect(r.status).toBe(200)
    expect(r.json.metadata.uid).toBe(uid)
    expect(r.json.spec.replicas).toBe(2)
    expect(r.json.spec.template.spec.containers.map((c: {name: string}) => c.name)).toEqual(['main'])
    expect(r.json.status.observedGeneration).toBeGreaterThan(0)

    r = await call(k8s, 'PATCH', `${base}/patchy`, {body: {}, contentType: 'text/plain'})
    expect(r.status).toBe(415)
  })

  it('lists with labelSelector, fieldSelector and limit/continue', async () => {
    const {k8s} = sb
    await call(k8s, 'POST', '/api/v1/namespaces', {body: {metadata: {name: 'sel'}}})
    for (const [name, tier] of [
      ['a', 'web'],
      ['b', 'db'],
      ['c', 'web'],
    ]) {
      await call(k8s, 'POST', '/api/v1/namespaces/sel/configmaps', {body: {metadata: {name, labels: {tier}}}})
    }
    const names = (r: {json: {items: Array<{metadata: {name: string}}>}}): string[] => r.json.items.map((i) => i.metadata.name)
    expect(names(await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Dweb'))).toEqual(['a', 'c'])
    expect(names(await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%20in%20(db),!missing'))).toEqual(['b'])
    expect(names(await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps?fieldSelector=metadata.name%3Db'))).toEqual(['b'])
    expect(names(await call(k8s, 'GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dsel,metadata.name!%3Da'))).toEqual(['b', 'c'])
    const page1 = await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps?limit=2')
    expect(names(page1)).toEqual(['a', 'b'])
    expect(page1.json.metadata.remainingItemCount).toBe(1)
    const page2 = await call(k8s, 'GET', `/api/v1/namespaces/sel/configmaps?limit=2&continue=${page1.json.metadata.continue}`)
    expect(names(page2)).toEqual(['c'])
    expect(page2.json.metadata.continue).toBeUndefined()
    expect((await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=%3D%3D')).status).toBe(400)

    // deletecollection honours the selectors too.
    const removed = await call(k8s, 'DELETE', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Dweb')
    expect(names(removed)).toEqual(['a', 'c'])
    expect(names(await call(k8s, 'GET', '/api/v1/namespaces/sel/configmaps'))).toEqual(['b'])
    expect((await call(k8s, 'DELETE', '/api/v1/namespaces/default')).json).toMatchObject({code: 403, reason: 'Forbidden'})
  })

  it('watch-list sends ADDED, a BOOKMARK with k8s.io/initial-events-end, then live events; one global resourceVersion', async () => {
    const {k8s} = sb
    await call(k8s, 'POST', '/api/v1/namespaces', {body: {metadata: {name: 'wl'}}})
    await call(k8s, 'POST', '/api/v1/namespaces/wl/configmaps', {body: {metadata: {name: 'first'}}})
    const controller = new AbortController()
    const res = await fetch(`${k8s.url}/api/v1/namespaces/wl/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, {
      signal: controller.signal,
    })
    const reader = res.body!.getReader()
    const events: Array<{type: string; object: any}> = []
    let buffered = ''
    const next = async (): Promise<{type: string; object: any}> => {
      for (;;) {
        const nl = buffered.indexOf('\n')
        if (nl >= 0) {
          const line = buffered.slice(0, nl)
          buffered = buffered.slice(nl + 1)
          const e = JSON.parse(line)
          events.push(e)
          return e
        }
        const {value, done} = await reader.read()
        if (done) throw new Error('watch ended')
        buffered += new TextDecoder().decode(value)
      }
    }
    expect(await next()).toMatchObject({type: 'ADDED', object: {metadata: {name: 'first'}}})
    const bookmark = await next()
    expect(bookmark.type).toBe('BOOKMARK')
    expect(bookmark.object.metadata.annotations).toEqual({'k8s.io/initial-events-end': 'true'})
    expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(events[0]!.object.metadata.resourceVersion))

    const second = await call(k8s, 'POST', '/api/v1/namespaces/wl/configmaps', {body: {metadata: {name: 'second'}}})
    const added = await next()
    expect(added).toMatchObject({type: 'ADDED', object: {metadata: {name: 'second'}}})
    await call(k8s, 'DELETE', '/api/v1/namespaces/wl/configmaps/second')
    const deleted = await next()
    expect(deleted.type).toBe('DELETED')
    // Writes to different kinds share one counter: versions strictly increase across kinds.
    expect(Number(deleted.object.metadata.resourceVersion)).toBeGreaterThan(Number(second.json.metadata.resourceVersion))
    controller.abort()

    // Resuming from a resourceVersion replays the log after it.
    const resumed = await fetch(`${k8s.url}/api/v1/namespaces/wl/configmaps?watch=1&resourceVersion=${second.json.metadata.resourceVersion}&timeoutSeconds=1`)
    const lines = (await resumed.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['DELETED second'])
  })

  it('runs a Deployment: owned ReplicaSet with pod-template-hash, Running pods, kstatus-ready status, cascading delete', async () => {
    const {k8s} = sb
    await call(k8s, 'POST', '/api/v1/namespaces', {body: {metadata: {name: 'ctl'}}})
    const created = (await call(k8s, 'POST', '/apis/apps/v1/namespaces/ctl/deployments', {body: deploymentManifest('api', 'ctl', 3)})).json
    const d = await waitFor(
      async () => {
        const cur = (await call(k8s, 'GET', '/apis/apps/v1/namespaces/ctl/deployments/api')).json
        return cur.status?.availableReplicas === 3 && cur.status.conditions?.some((c: {reason: string}) => c.reason === 'NewReplicaSetAvailable') && cur
      },
      5000,
      'deployment available',
    )
    expect(d.metadata.generation).toBe(1)
    expect(d.status).toMatchObject({observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3})
    expect(d.status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({type: 'Available', status: 'True'}),
        expect.objectContaining({type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable'}),
      ]),
    )
    const rs = (await call(k8s, 'GET', '/apis/apps/v1/namespaces/ctl/replicasets')).json.items
    expect(rs).toHaveLength(1)
    const hash = rs[0].metadata.labels['pod-template-hash']
    expect(rs[0].metadata.ownerReferences).toEqual([expect.objectContaining({kind: 'Deployment', name: 'api', uid: created.metadata.uid, controller: true})])
    expect(rs[0].spec.template.spec).toEqual(created.spec.template.spec)
    const pods = (await call(k8s, 'GET', `/api/v1/namespaces/ctl/pods?labelSelector=app%3Dapi,pod-template-hash%3D${hash}`)).json.items
    expect(pods).toHaveLength(3)
    for (const p of pods) {
      expect(p.status.phase).toBe('Running')
      expect(p.status.conditions.find((c: {type: string}) => c.type === 'Ready').status).toBe('True')
      expect(p.metadata.labels).toMatchObject({app: 'api', tier: 'web', 'pod-template-hash': hash})
      expect(p.metadata.ownerReferences[0]).toMatchObject({kind: 'ReplicaSet', uid: rs[0].metadata.uid, controller: true})
    }

    // The /status subresource: PUT there changes only status; PUT on the object keeps status.
    const statusOnly = await call(k8s, 'PUT', '/apis/apps/v1/namespaces/ctl/deployments/api/status', {
      body: {...d, spec: {...d.spec, replicas: 9}, status: {...d.status, replicas: 3}},
    })
    expect(statusOnly.json.spec.replicas).toBe(3)
    const gen = statusOnly.json.metadata.generation

    // A deleted pod is replaced; scaling changes the pod count; deleting the Deployment removes everything.
    await call(k8s, 'DELETE', `/api/v1/namespaces/ctl/pods/${pods[0].metadata.name}`)
    await waitFor(async () => (await call(k8s, 'GET', '/api/v1/namespaces/ctl/pods')).json.items.length === 3, 5000, 'pod replaced')
    const scaled = await call(k8s, 'PATCH', '/apis/apps/v1/namespaces/ctl/deployments/api/scale', {body: {spec: {replicas: 1}}, contentType: 'application/merge-patch+json'})
    expect(scaled.json).toMatchObject({kind: 'Scale', spec: {replicas: 1}, status: {selector: 'app=api'}})
    await waitFor(async () => (await call(k8s, 'GET', '/api/v1/namespaces/ctl/pods')).json.items.length === 1, 5000, 'scaled to 1')
    expect((await call(k8s, 'GET', '/apis/apps/v1/namespaces/ctl/deployments/api')).json.metadata.generation).toBe(gen + 1)

    await call(k8s, 'DELETE', '/apis/apps/v1/namespaces/ctl/deployments/api', {body: {kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background'}})
    expect((await call(k8s, 'GET', '/apis/apps/v1/namespaces/ctl/replicasets')).json.items).toHaveLength(0)
    expect((await call(k8s, 'GET', '/api/v1/namespaces/ctl/pods')).json.items).toHaveLength(0)
  })

  it('gives Services a cluster IP that survives replacement, and HPAs a status from their target', async () => {
    const {k8s} = sb
    await call(k8s, 'POST', '/api/v1/namespaces', {body: {metadata: {name: 'svc'}}})
    const svc = (await call(k8s, 'POST', '/api/v1/namespaces/svc/services', {body: {metadata: {name: 'web'}, spec: {selector: {app: 'web'}, ports: [{port: 80}]}}})).json
    expect(svc.spec.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/)
    expect(svc.spec.ports[0]).toMatchObject({port: 80, targetPort: 80, protocol: 'TCP'})
    const replaced = (await call(k8s, 'PUT', '/api/v1/namespaces/svc/services/web', {body: {metadata: {name: 'web'}, spec: {selector: {app: 'web'}, ports: [{port: 81}]}}})).json
    expect(replaced.spec.clusterIP).toBe(svc.spec.clusterIP)

    k8s.seed([deploymentManifest('web', 'svc', 2)])
    await call(k8s, 'POST', '/apis/autoscaling/v2/namespaces/svc/horizontalpodautoscalers', {
      body: {metadata: {name: 'web'}, spec: {scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: 'web'}, minReplicas: 3, maxReplicas: 5}},
    })
    const hpa = await waitFor(
      async () => {
        const h = (await call(k8s, 'GET', '/apis/autoscaling/v2/namespaces/svc/horizontalpodautoscalers/web')).json
        return h.status?.currentReplicas === 2 && h
      },
      5000,
      'hpa status',
    )
    expect(hpa.status.desiredReplicas).toBe(3)
  })

  it('keeps a request log', () => {
    const log = sb.k8s.requestLog
    expect(log.length).toBeGreaterThan(20)
    expect(log[0]).toMatchObject({method: 'GET', path: '/version', status: 200})
    expect(log.some((e) => e.status === 409)).toBe(true)
    expect(log.every((e) => typeof e.time === 'string' && e.status > 0)).toBe(true)
  })
})

describe('k8s stand-in: @kubernetes/client-node', () => {
  let sb: Sandbox
  let kc: KubeConfig
  beforeAll(async () => {
    sb = await startSandbox()
    kc = new KubeConfig()
    kc.loadFromFile(sb.kubeconfig)
  })
  afterAll(async () => {
    await sb?.cleanup()
  })

  it('lists namespaces, reads a Deployment status and lists pods by label', async () => {
    const core = kc.makeApiClient(CoreV1Api)
    const apps = kc.makeApiClient(AppsV1Api)
    expect(kc.getCurrentContext()).toBe('sandbox')
    const ns = await core.listNamespace()
    expect(ns.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'kube-system']))

    await core.createNamespace({body: {metadata: {name: 'cn'}}})
    await apps.createNamespacedDeployment({namespace: 'cn', body: deploymentManifest('shop', 'cn', 2) as never})
    const d = await waitFor(
      async () => {
        const cur = await apps.readNamespacedDeployment({name: 'shop', namespace: 'cn'})
        return cur.status?.readyReplicas === 2 && cur
      },
      5000,
      'shop ready',
    )
    expect(d.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True')
    const pods = await core.listNamespacedPod({namespace: 'cn', labelSelector: 'app=shop'})
    expect(pods.items).toHaveLength(2)
    expect(pods.items.every((p: V1Pod) => p.status?.phase === 'Running')).toBe(true)
    expect((await core.listNamespacedPod({namespace: 'cn', labelSelector: 'app=other'})).items).toHaveLength(0)
  })

  it('creates and replaces a Lease, refusing a stale replace with 409 Conflict', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api)
    const body: V1Lease = {
      metadata: {name: 'clipper-ops-lock', namespace: 'default'},
      spec: {holderIdentity: 'run-1', leaseDurationSeconds: 30, acquireTime: new Date(), renewTime: new Date()},
    }
    const created = await coord.createNamespacedLease({namespace: 'default', body})
    expect(created.spec?.holderIdentity).toBe('run-1')
    await expect(coord.createNamespacedLease({namespace: 'default', body})).rejects.toMatchObject({code: 409})

    const renewed = await coord.replaceNamespacedLease({
      name: 'clipper-ops-lock',
      namespace: 'default',
      body: {...created, spec: {...created.spec, holderIdentity: 'run-2', renewTime: new Date()}},
    })
    expect(renewed.spec?.holderIdentity).toBe('run-2')
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion))
    // Replacing from the old copy (stale resourceVersion) must fail: that is what makes the lock safe.
    const stale = coord.replaceNamespacedLease({name: 'clipper-ops-lock', namespace: 'default', body: {...created, spec: {...created.spec, holderIdentity: 'run-3'}}})
    await expect(stale).rejects.toMatchObject({code: 409})
    await expect(stale.catch((e: {body: string}) => JSON.parse(e.body).reason)).resolves.toBe('Conflict')
    const read = await coord.readNamespacedLease({name: 'clipper-ops-lock', namespace: 'default'})
    expect(read.spec?.holderIdentity).toBe('run-2')
  })

  it('applies, reads, lists and deletes through the generic KubernetesObjectApi (server-side apply)', async () => {
    const client = KubernetesObjectApi.makeApiClient(kc)
    const spec: KubernetesObject & {spec: Record<string, unknown>} = deploymentManifest('generic', 'default', 1)
    const applied = await client.patch(spec, undefined, undefined, 'clipper-ops', true, PatchStrategy.ServerSideApply)
    expect(applied.metadata?.uid).toBeTruthy()
    const reapplied = await client.patch({...spec, spec: {...spec.spec, replicas: 2}}, undefined, undefined, 'clipper-ops', true, PatchStrategy.ServerSideApply)
    expect(reapplied.metadata?.uid).toBe(applied.metadata?.uid)
    await waitFor(
      async () =>
        ((await client.read({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'generic', namespace: 'default'}})) as {status?: {readyReplicas?: number}}).status
          ?.readyReplicas === 2,
      5000,
      'generic ready',
    )
    const listed = await client.list('apps/v1', 'Deployment', 'default', undefined, undefined, undefined, undefined, 'app=generic')
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(['generic'])
    await client.delete({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'generic', namespace: 'default'}}, undefined, undefined, undefined, undefined, 'Foreground')
    await expect(client.read({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'generic', namespace: 'default'}})).rejects.toMatchObject({code: 404})
  })

  it('streams ADDED then DELETED to the Watch class', async () => {
    const core = kc.makeApiClient(CoreV1Api)
    const seen: string[] = []
    const watch = new Watch(kc)
    let doneErr: unknown = 'not done'
    const ctl = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      {labelSelector: 'watched=yes'},
      (type, obj) => {
        seen.push(`${type} ${obj.metadata?.name}`)
      },
      (err) => {
        doneErr = err
      },
    )
    await core.createNamespacedConfigMap({namespace: 'default', body: {metadata: {name: 'w1', labels: {watched: 'yes'}}, data: {a: '1'}}})
    await core.createNamespacedConfigMap({namespace: 'default', body: {metadata: {name: 'ignored'}}})
    await core.deleteNamespacedConfigMap({name: 'w1', namespace: 'default'})
    await waitFor(() => seen.length >= 2, 5000, 'watch events')
    expect(seen).toEqual(['ADDED w1', 'DELETED w1'])
    ctl.abort()
    await waitFor(() => doneErr !== 'not done', 2000, 'watch done')
  })

  it('shows the fault knobs: crashLoop gives CrashLoopBackOff with rising restarts, ready:false makes it unavailable', async () => {
    const core = kc.makeApiClient(CoreV1Api)
    const apps = kc.makeApiClient(AppsV1Api)
    await core.createNamespace({body: {metadata: {name: 'faults'}}})
    await apps.createNamespacedDeployment({namespace: 'faults', body: deploymentManifest('flaky', 'faults', 2) as never})
    await waitFor(async () => (await apps.readNamespacedDeployment({name: 'flaky', namespace: 'faults'})).status?.availableReplicas === 2, 5000, 'flaky ready')

    sb.k8s.setDeploymentHealth('faults', 'flaky', {crashLoop: true})
    const crashing = await waitFor(
      async () => {
        const pods = await core.listNamespacedPod({namespace: 'faults', labelSelector: 'app=flaky'})
        const cs = pods.items[0]?.status?.containerStatuses?.[0]
        return cs?.state?.waiting?.reason === 'CrashLoopBackOff' && pods
      },
      5000,
      'CrashLoopBackOff',
    )
    expect(crashing.items).toHaveLength(2)
    const podName = crashing.items[0]!.metadata!.name!
    const restarts = async (): Promise<number> => (await core.readNamespacedPod({name: podName, namespace: 'faults'})).status?.containerStatuses?.[0]?.restartCount ?? 0
    const first = await restarts()
    await waitFor(async () => (await restarts()) > first, 6000, 'restartCount to rise')
    const d = await apps.readNamespacedDeployment({name: 'flaky', namespace: 'faults'})
    expect(d.status?.availableReplicas).toBe(0)
    expect(d.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('False')

    sb.k8s.setDeploymentHealth('faults', 'flaky', {crashLoop: false, ready: false})
    const unready = await waitFor(
      async () => {
        const pods = await core.listNamespacedPod({namespace: 'faults', labelSelector: 'app=flaky'})
        const cs = pods.items[0]?.status?.containerStatuses?.[0]
        return cs?.state?.running && pods
      },
      5000,
      'running but unready',
    )
    expect(unready.items.every((p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'False')).toBe(true)
    expect((await apps.readNamespacedDeployment({name: 'flaky', namespace: 'faults'})).status).toMatchObject({readyReplicas: 0, availableReplicas: 0})

    sb.k8s.setDeploymentHealth('faults', 'flaky', {ready: true})
    await waitFor(async () => (await apps.readNamespacedDeployment({name: 'flaky', namespace: 'faults'})).status?.availableReplicas === 2, 5000, 'healthy again')
  })
})

describe('k8s stand-in: close()', () => {
  it('ends open watches and leaves no server, socket or timer behind', async () => {
    const handles = (): number => process.getActiveResourcesInfo().filter((h) => h === 'TCPServerWrap' || h === 'TCPSocketWrap' || h === 'Timeout').length
    const before = handles()
    const k8s = await startK8sStandIn({port: 0})
    k8s.setDeploymentHealth('default', 'x', {crashLoop: true}) // starts the controller ticker
    let ended = false
    await new Promise<void>((resolve, reject) => {
      const req = request(`${k8s.url}/api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, (res) => {
        res.once('data', () => resolve())
        res.on('end', () => {
          ended = true
        })
        res.resume()
      })
      req.on('error', reject)
      req.end()
    })
    const t0 = Date.now()
    await k8s.close()
    expect(Date.now() - t0).toBeLessThan(1000)
    await waitFor(() => ended, 2000, 'watch to end')
    await waitFor(() => handles() <= before, 2000, 'handles to be released')
    await k8s.close() // idempotent
  })
})
