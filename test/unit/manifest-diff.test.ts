import {describe, expect, it} from 'vitest'
import {diffManifests, diffObjects, formatField, formatPath, formatValue, isEmptyDiff, parseManifest, refKey, refTarget} from '../../src/lib/helm/manifest-diff.js'

const deployment = (o: {replicas?: number; image?: string; chart?: string; sidecar?: boolean; env?: Record<string, string>} = {}) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    helm.sh/chart: ${o.chart ?? 'demo-0.1.0'}
spec:
  replicas: ${o.replicas ?? 2}
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, helm.sh/chart: ${o.chart ?? 'demo-0.1.0'}}
    spec:
      containers:
${o.sidecar ? '      - name: proxy\n        image: envoy:1.30\n' : ''}      - name: web
        image: ${o.image ?? 'nginx:1.27'}
        args: [--port, "8080"]
        env:
${Object.entries(o.env ?? {MODE: 'prod'})
  .map(([k, v]) => `        - {name: ${k}, value: ${v}}`)
  .join('\n')}
`

const service = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other}
spec:
  ports: [{port: 80, targetPort: 8080}]
`

const manifest = (...docs: string[]) => docs.map((d) => `---\n# Source: demo/templates/x.yaml${d}`).join('\n')

describe('parseManifest', () => {
  it('keys objects by apiVersion/kind/namespace/name, skipping empty documents and defaulting the namespace', () => {
    const m = parseManifest(`---\n# only a comment\n---\n${manifest(deployment(), service)}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n`, {namespace: 'apps'})
    expect([...m.keys()]).toEqual(['apps/v1/Deployment/apps/web', 'v1/Service/other/web', 'v1/Namespace//apps'])
    const ns = [...m.values()][2]!.ref
    expect(ns).toEqual({apiVersion: 'v1', kind: 'Namespace', name: 'apps'})
    expect(refTarget(ns)).toBe('Namespace/apps')
    expect(refTarget([...m.values()][0]!.ref)).toBe('Deployment/apps/web')
    expect(refKey({apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', namespace: 'a', name: 'r'})).toBe('rbac.authorization.k8s.io/v1/Role/a/r')
  })

  it('expands a List, and refuses what is not a Kubernetes object or not YAML', () => {
    const m = parseManifest(
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n',
    )
    expect([...m.values()].map((o) => o.ref.name)).toEqual(['a', 'b'])
    expect(() => parseManifest('---\nfoo: bar\n')).toThrow(/document 1 is not a Kubernetes object/)
    expect(() => parseManifest('a: [1\n')).toThrow(/not valid YAML/)
  })
})

describe('diffManifests', () => {
  it('finds added and removed resources, and nothing for an identical manifest', () => {
    const before = manifest(deployment())
    const after = manifest(deployment(), service)
    expect(isEmptyDiff(diffManifests(before, before))).toBe(true)
    const d = diffManifests(before, after, {namespace: 'apps'})
    expect(d.added).toEqual([{apiVersion: 'v1', kind: 'Service', namespace: 'other', name: 'web'}])
    expect(d.changed).toEqual([])
    expect(diffManifests(after, before, {namespace: 'apps'}).removed.map(refTarget)).toEqual(['Service/other/web'])
    // A fresh install: everything is added.
    expect(diffManifests('', after, {namespace: 'apps'}).added.map(refTarget)).toEqual(['Deployment/apps/web', 'Service/other/web'])
  })

  it('names changed fields with dotted paths, containers and env by name', () => {
    const d = diffManifests(manifest(deployment()), manifest(deployment({replicas: 3, image: 'nginx:1.29', env: {MODE: 'prod', DEBUG: '1'}})), {namespace: 'apps'})
    expect(d.changed).toHaveLength(1)
    expect(d.changed[0]!.ref).toEqual({apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'web'})
    expect(d.changed[0]!.fields).toEqual([
      {path: 'spec.replicas', before: 2, after: 3},
      {path: 'spec.template.spec.containers[name=web].image', before: 'nginx:1.27', after: 'nginx:1.29'},
      {path: 'spec.template.spec.containers[name=web].env[name=DEBUG]', before: undefined, after: {name: 'DEBUG', value: 1}},
    ])
    expect(d.changed[0]!.fields.map(formatField)).toEqual([
      'spec.replicas 2 → 3',
      'spec.template.spec.containers[name=web].image nginx:1.27 → nginx:1.29',
      'spec.template.spec.containers[name=web].env[name=DEBUG] (none) → {"name":"DEBUG","value":1}',
    ])
  })

  it('an inserted container is one change, not a shift of every later container', () => {
    const d = diffManifests(manifest(deployment()), manifest(deployment({sidecar: true})))
    expect(d.changed[0]!.fields).toEqual([{path: 'spec.template.spec.containers[name=proxy]', before: undefined, after: {name: 'proxy', image: 'envoy:1.30'}}])
  })

  it('ignores the chart label on the object, but not in the pod template (changing it restarts the pods)', () => {
    const d = diffManifests(manifest(deployment()), manifest(deployment({chart: 'demo-0.2.0'})))
    expect(d.changed[0]!.fields.map((f) => f.path)).toEqual(['spec.template.metadata.labels["helm.sh/chart"]'])
    // A ConfigMap whose only difference is the chart label has not changed.
    const cm = (chart: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {helm.sh/chart: ${chart}}}\ndata: {a: "1"}\n`
    expect(isEmptyDiff(diffManifests(cm('demo-0.1.0'), cm('demo-0.2.0')))).toBe(true)
  })
})

describe('diffObjects', () => {
  it('ignores what the server and helm stamp on (status, uid, helm annotations) and treats null as unset', () => {
    const live = {
      metadata: {name: 'a', uid: 'u1', resourceVersion: '7', annotations: {'meta.helm.sh/release-name': 'demo', keep: 'x'}},
      spec: {a: 1, b: null},
      status: {ready: true},
    }
    expect(diffObjects({metadata: {name: 'a', annotations: {keep: 'x'}}, spec: {a: 1}}, live)).toEqual([])
    expect(diffObjects({metadata: {name: 'a', annotations: {keep: 'x'}}, spec: {a: 2}}, live)).toEqual([{path: 'spec.a', before: 2, after: 1}])
  })

  it('compares lists of scalars whole, unnamed objects by position, and keeps an empty map apart from none', () => {
    expect(diffObjects({args: ['--a', '--b']}, {args: ['--a', '--c']})).toEqual([{path: 'args', before: ['--a', '--b'], after: ['--a', '--c']}])
    expect(diffObjects({rules: [{host: 'a'}, {host: 'b'}]}, {rules: [{host: 'a'}, {host: 'c'}, {host: 'd'}]})).toEqual([
      {path: 'rules[1].host', before: 'b', after: 'c'},
      {path: 'rules[2]', before: undefined, after: {host: 'd'}},
    ])
    expect(diffObjects({volumes: [{name: 'tmp', emptyDir: {}}]}, {volumes: [{name: 'tmp'}]})).toEqual([{path: 'volumes[name=tmp].emptyDir', before: {}, after: undefined}])
    // Duplicate names fall back to positions.
    expect(
      diffObjects(
        {
          l: [
            {name: 'x', v: 1},
            {name: 'x', v: 2},
          ],
        },
        {
          l: [
            {name: 'x', v: 1},
            {name: 'x', v: 3},
          ],
        },
      ),
    ).toEqual([{path: 'l[1].v', before: 2, after: 3}])
  })

  it('formats paths and values for one line of text', () => {
    expect(formatPath(['metadata', 'annotations', 'checksum/config'])).toBe('metadata.annotations["checksum/config"]')
    expect(formatPath(['spec', 'template', 'spec', 'containers', {name: 'web'}, 'ports', {index: 0}, 'containerPort'])).toBe(
      'spec.template.spec.containers[name=web].ports[0].containerPort',
    )
    expect(formatValue(undefined)).toBe('(none)')
    expect(formatValue('')).toBe('""')
    expect(formatValue('x'.repeat(100), 10)).toBe('xxxxxxxxx…')
  })
})
