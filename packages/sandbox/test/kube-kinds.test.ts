/**
 * The kinds a `helm create` chart and the seeds' layout need (ServiceAccount, Role/RoleBinding,
 * ClusterRole/ClusterRoleBinding, NetworkPolicy, ResourceQuota), SelfSubjectAccessReview
 * (`kubectl auth can-i`), Nodes put by seeding code, and dry runs (`dryRun=All`), each with the
 * real kubectl and helm.
 */
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {helmBinary} from '../src/helm-binary.js'
import {call, deploymentManifest, kubectl, startSandbox, waitFor, type Sandbox} from './kube-helpers.js'

describe('k8s stand-in: the kinds charts and seeds need', () => {
  let sb: Sandbox
  let helm: string
  beforeAll(async () => {
    sb = await startSandbox()
    helm = await helmBinary()
    await call(sb.k8s, 'POST', '/api/v1/namespaces', {body: {metadata: {name: 'apps'}}})
  })
  afterAll(async () => {
    await sb?.cleanup()
  })

  const ok = async (args: string[]): Promise<string> => {
    const r = await kubectl(sb, args)
    if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`)
    return String(r.stdout)
  }
  const runHelm = async (args: string[]): Promise<string> => {
    const r = await execa(helm, args, {env: sb.env, extendEnv: true, reject: false, timeout: 90_000, cwd: sb.dir})
    if (r.exitCode !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`)
    return String(r.stdout)
  }
  const mutations = (from: number) => sb.k8s.requestLog.slice(from).filter((e) => !['GET', 'HEAD'].includes(e.method))

  it('installs a chart exactly as `helm create` makes it, with default flags and --wait', async () => {
    await runHelm(['create', 'demo'])
    // A server-side dry run first: helm only reads, and nothing is written.
    const from = sb.k8s.requestLog.length
    const dry = JSON.parse(await runHelm(['upgrade', '--install', 'demo', './demo', '-n', 'charts', '--create-namespace', '--dry-run=server', '-o', 'json']))
    expect(dry).toMatchObject({version: 1, info: {status: 'pending-install'}})
    expect(dry.manifest).toContain('kind: ServiceAccount')
    expect(mutations(from)).toEqual([])

    const out = await runHelm(['install', 'demo', './demo', '-n', 'charts', '--create-namespace', '--wait', '--timeout', '60s'])
    expect(out).toContain('STATUS: deployed')
    const sa = sb.k8s.store.find('v1', 'ServiceAccount', 'charts', 'demo')
    expect(sa?.metadata.labels).toMatchObject({'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': 'demo-0.1.0'})
    expect(sa?.automountServiceAccountToken).toBe(true)
    const d = sb.k8s.store.find('apps/v1', 'Deployment', 'charts', 'demo')
    expect(d?.spec.template.spec.serviceAccountName).toBe('demo')
    expect(d?.status).toMatchObject({readyReplicas: 1, availableReplicas: 1})
    // --wait watched the ServiceAccounts too (kstatus watches every kind of the release).
    expect(sb.k8s.requestLog.some((e) => e.path.startsWith('/api/v1/namespaces/charts/serviceaccounts?') && e.path.includes('watch=true'))).toBe(true)
    expect(await runHelm(['uninstall', 'demo', '-n', 'charts', '--wait', '--timeout', '60s'])).toContain('uninstalled')
    expect(sb.k8s.store.find('v1', 'ServiceAccount', 'charts', 'demo')).toBeUndefined()
  })

  it('serves ServiceAccount, Role, RoleBinding, ClusterRole, ClusterRoleBinding, NetworkPolicy and ResourceQuota to kubectl apply', async () => {
    const objects = [
      {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'clipper', namespace: 'apps'}},
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: {name: 'reader', namespace: 'apps'},
        rules: [{apiGroups: [''], resources: ['pods'], verbs: ['get', 'list']}],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: {name: 'clipper-reader', namespace: 'apps'},
        subjects: [
          {kind: 'ServiceAccount', name: 'clipper', namespace: 'apps'},
          {kind: 'Group', name: 'ops'},
        ],
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader'},
      },
      {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'node-reader'}, rules: [{apiGroups: [''], resources: ['nodes'], verbs: ['get']}]},
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: {name: 'clipper-node-reader'},
        subjects: [{kind: 'ServiceAccount', name: 'clipper', namespace: 'apps'}],
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-reader'},
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: {name: 'default-deny', namespace: 'apps'},
        spec: {podSelector: {}, egress: [{to: [{namespaceSelector: {}}]}]},
      },
      {apiVersion: 'v1', kind: 'ResourceQuota', metadata: {name: 'compute', namespace: 'apps'}, spec: {hard: {pods: '20', 'requests.cpu': '8', 'count/deployments.apps': '5'}}},
    ]
    const file = join(sb.dir, 'layout.yaml')
    await writeFile(file, objects.map((o) => stringify(o)).join('---\n'))
    const out = await ok(['apply', '-f', file])
    for (const line of [
      'serviceaccount/clipper created',
      'role.rbac.authorization.k8s.io/reader created',
      'rolebinding.rbac.authorization.k8s.io/clipper-reader created',
      'clusterrole.rbac.authorization.k8s.io/node-reader created',
      'clusterrolebinding.rbac.authorization.k8s.io/clipper-node-reader created',
      'networkpolicy.networking.k8s.io/default-deny created',
      'resourcequota/compute created',
    ])
      expect(out).toContain(line)
    expect(await ok(['apply', '-f', file])).toContain('serviceaccount/clipper unchanged')

    const got = JSON.parse(await ok(['get', 'sa,roles,rolebindings,netpol,quota', '-n', 'apps', '-o', 'json'])).items
    expect(got.map((o: {kind: string; metadata: {name: string}}) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/clipper',
      'Role/reader',
      'RoleBinding/clipper-reader',
      'NetworkPolicy/default-deny',
      'ResourceQuota/compute',
    ])
    // Defaulting as the real API server does it.
    const binding = got.find((o: {kind: string}) => o.kind === 'RoleBinding')
    expect(binding.subjects.map((s: {apiGroup: string}) => s.apiGroup)).toEqual(['', 'rbac.authorization.k8s.io'])
    expect(got.find((o: {kind: string}) => o.kind === 'NetworkPolicy').spec.policyTypes).toEqual(['Ingress', 'Egress'])
    expect(await ok(['get', 'clusterroles,clusterrolebindings', '-o', 'name'])).toBe(
      'clusterrole.rbac.authorization.k8s.io/node-reader\nclusterrolebinding.rbac.authorization.k8s.io/clipper-node-reader',
    )
    // A quota reports what it counts (and "0" for compute: the sandbox runs no containers).
    await writeFile(join(sb.dir, 'web.yaml'), stringify(deploymentManifest('web', 'apps', 3)))
    await ok(['apply', '-f', join(sb.dir, 'web.yaml')])
    const quota = await waitFor(() => {
      const q = sb.k8s.store.find('v1', 'ResourceQuota', 'apps', 'compute')
      return q?.status?.used?.pods === '3' && q
    })
    expect(quota.status).toEqual({hard: {pods: '20', 'requests.cpu': '8', 'count/deployments.apps': '5'}, used: {pods: '3', 'requests.cpu': '0', 'count/deployments.apps': '1'}})
  })

  it('decodes the protobuf bodies of kubectl create serviceaccount, role, rolebinding, clusterrole and quota', async () => {
    await ok(['create', 'serviceaccount', 'bot', '-n', 'apps'])
    await ok(['create', 'role', 'deployer', '-n', 'apps', '--verb=get,patch', '--resource=deployments.apps,pods'])
    await ok(['create', 'rolebinding', 'bot-deployer', '-n', 'apps', '--role=deployer', '--serviceaccount=apps:bot', '--user=alice'])
    await ok(['create', 'clusterrole', 'ns-viewer', '--verb=list', '--resource=namespaces'])
    await ok(['create', 'quota', 'small', '-n', 'apps', '--hard=pods=10,services=4'])
    const get = (kind: string, name: string, ns?: string): any => sb.k8s.store.find(kind.includes('Role') ? 'rbac.authorization.k8s.io/v1' : 'v1', kind, ns, name)
    expect(get('ServiceAccount', 'bot', 'apps')?.metadata.name).toBe('bot')
    expect(get('Role', 'deployer', 'apps').rules).toEqual([
      {verbs: ['get', 'patch'], apiGroups: [''], resources: ['pods']},
      {verbs: ['get', 'patch'], apiGroups: ['apps'], resources: ['deployments']},
    ])
    const rb = get('RoleBinding', 'bot-deployer', 'apps')
    expect(rb.roleRef).toEqual({apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployer'})
    expect(rb.subjects).toEqual(
      expect.arrayContaining([
        {kind: 'ServiceAccount', apiGroup: '', name: 'bot', namespace: 'apps'},
        {kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice'},
      ]),
    )
    expect(get('ClusterRole', 'ns-viewer').rules).toEqual([{verbs: ['list'], apiGroups: [''], resources: ['namespaces']}])
    expect(get('ResourceQuota', 'small', 'apps').spec).toEqual({hard: {pods: '10', services: '4'}})
  })

  it('validates RBAC objects: a binding needs a roleRef, which cannot change', async () => {
    const base = '/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings'
    const none = await call(sb.k8s, 'POST', base, {body: {metadata: {name: 'x'}, subjects: []}})
    expect(none).toMatchObject({status: 422, json: {reason: 'Invalid'}})
    const file = join(sb.dir, 'rb.yaml')
    const binding = (role: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: {name: 'moving', namespace: 'apps'},
      subjects: [{kind: 'User', name: 'bob'}],
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role},
    })
    await writeFile(file, stringify(binding('reader')))
    await ok(['apply', '-f', file])
    await writeFile(file, stringify(binding('deployer')))
    const r = await kubectl(sb, ['apply', '-f', file])
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toContain('cannot change roleRef')
    const role = await call(sb.k8s, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/apps/roles', {body: {metadata: {name: 'empty'}, rules: [{resources: ['pods']}]}})
    expect(role).toMatchObject({status: 422, json: {message: expect.stringContaining('rules[0].verbs: Required value')}})
  })

  it('answers kubectl auth can-i with a SelfSubjectAccessReview: allowed, spec echoed, nothing stored, create only', async () => {
    expect((await ok(['auth', 'can-i', 'create', 'deployments', '-n', 'apps'])).trim()).toBe('yes')
    expect((await ok(['auth', 'can-i', 'get', '/healthz'])).trim()).toBe('yes')
    expect(sb.k8s.requestLog.filter((e) => e.path.startsWith('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).map((e) => `${e.method} ${e.status}`)).toEqual([
      'POST 201',
      'POST 201',
    ])
    const path = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'
    const spec = {resourceAttributes: {namespace: 'apps', verb: 'delete', group: 'apps', resource: 'deployments', name: 'web'}}
    const answer = await call(sb.k8s, 'POST', path, {body: {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec}})
    expect(answer).toMatchObject({status: 201, json: {kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec, status: {allowed: true}}})
    expect(await call(sb.k8s, 'POST', path, {body: {spec: {}}})).toMatchObject({status: 422, json: {reason: 'Invalid'}})
    expect(await call(sb.k8s, 'GET', path)).toMatchObject({status: 405, json: {reason: 'MethodNotAllowed'}})
    expect(await call(sb.k8s, 'GET', `${path}/x`)).toMatchObject({status: 405})
    const discovery = (await call(sb.k8s, 'GET', '/apis/authorization.k8s.io/v1')).json.resources
    expect(discovery).toEqual([expect.objectContaining({name: 'selfsubjectaccessreviews', namespaced: false, verbs: ['create']})])
    expect(await ok(['api-resources', '--api-group=authorization.k8s.io', '-o', 'wide'])).toMatch(
      /selfsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SelfSubjectAccessReview\s+create/,
    )
  })

  it('lets seeding code put Nodes, which kubectl lists; pods go to Ready nodes only', async () => {
    const node = sb.k8s.putNode('sandbox-node-3', {zone: 'eu-west-1c', ready: false})
    expect(node.metadata.labels).toMatchObject({'topology.kubernetes.io/zone': 'eu-west-1c', 'kubernetes.io/hostname': 'sandbox-node-3'})
    const wide = await ok(['get', 'nodes'])
    expect(wide).toMatch(/sandbox-node-1\s+Ready/)
    expect(wide).toMatch(/sandbox-node-3\s+NotReady/)
    await writeFile(join(sb.dir, 'spread.yaml'), stringify(deploymentManifest('spread', 'apps', 4)))
    await ok(['apply', '-f', join(sb.dir, 'spread.yaml')])
    const pods = await waitFor(() => {
      const p = sb.k8s.store.list(sb.k8s.store.resourceOf({apiVersion: 'v1', kind: 'Pod'}), 'apps').filter((x) => x.metadata.labels?.app === 'spread')
      return p.length === 4 && p
    })
    expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['sandbox-node-1', 'sandbox-node-2']))
    sb.k8s.putNode('sandbox-node-3', {zone: 'eu-west-1c'})
    expect(await ok(['get', 'node', 'sandbox-node-3'])).toMatch(/sandbox-node-3\s+Ready/)
    expect(JSON.parse(await ok(['get', 'nodes', '-o', 'json'])).items).toHaveLength(3)
  })

  it('dryRun=All validates and answers as if applied, but stores nothing and emits no watch event', async () => {
    const controller = new AbortController()
    const res = await fetch(`${sb.k8s.url}/api/v1/namespaces/apps/services?watch=true&resourceVersion=${sb.k8s.store.resourceVersion}`, {signal: controller.signal})
    const rv = sb.k8s.store.resourceVersion
    const from = sb.k8s.requestLog.length

    const svc = join(sb.dir, 'svc.yaml')
    await writeFile(svc, stringify({apiVersion: 'v1', kind: 'Service', metadata: {name: 'dry', namespace: 'apps'}, spec: {selector: {app: 'dry'}, ports: [{port: 80}]}}))
    const created = JSON.parse(await ok(['create', '-f', svc, '--dry-run=server', '-o', 'json']))
    expect(created.spec.clusterIP).toMatch(/^10\.96\./)
    expect(JSON.parse(await ok(['apply', '--server-side', '-f', svc, '--dry-run=server', '-o', 'json'])).spec.type).toBe('ClusterIP')
    // Changes to and deletes of existing objects are dry too.
    expect(await ok(['scale', 'deploy/web', '-n', 'apps', '--replicas=7', '--dry-run=server'])).toContain('scaled (server dry run)')
    expect(await ok(['delete', 'deploy/web', '-n', 'apps', '--dry-run=server'])).toContain('deleted (server dry run)')
    expect(await ok(['delete', 'ns', 'apps', '--dry-run=server'])).toContain('deleted (server dry run)')
    // Validation still answers: a Deployment whose selector does not match its template.
    const bad = deploymentManifest('bad', 'apps')
    bad.spec.selector = {matchLabels: {app: 'other'}}
    await writeFile(join(sb.dir, 'bad.yaml'), stringify(bad))
    const invalid = await kubectl(sb, ['apply', '-f', join(sb.dir, 'bad.yaml'), '--dry-run=server'])
    expect(invalid.stderr).toContain('selector` does not match template `labels`')

    // (deletes carry dryRun in their DeleteOptions body, the other writes in the query)
    expect(
      sb.k8s.requestLog
        .slice(from)
        .filter((e) => ['POST', 'PATCH', 'PUT'].includes(e.method) && e.status < 300)
        .every((e) => e.path.includes('dryRun=All')),
    ).toBe(true)
    expect(sb.k8s.store.resourceVersion).toBe(rv)
    expect(sb.k8s.store.find('v1', 'Service', 'apps', 'dry')).toBeUndefined()
    expect(sb.k8s.store.find('apps/v1', 'Deployment', 'apps', 'web')?.spec.replicas).toBe(3)
    expect(sb.k8s.store.find('v1', 'Namespace', undefined, 'apps')?.status.phase).toBe('Active')

    // The real create is the first event the watch sees, and gets the cluster IP the dry run showed (none was used up).
    const real = JSON.parse(await ok(['create', '-f', svc, '-o', 'json']))
    expect(real.spec.clusterIP).toBe(created.spec.clusterIP)
    const reader = res.body!.getReader()
    let text = ''
    while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value)
    expect(JSON.parse(text.slice(0, text.indexOf('\n')))).toMatchObject({type: 'ADDED', object: {metadata: {name: 'dry', resourceVersion: real.metadata.resourceVersion}}})
    controller.abort()
  })
})
