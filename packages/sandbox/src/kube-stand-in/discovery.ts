/**
 * Discovery and OpenAPI documents, all derived from the resource table.
 *
 * Discovery is answered in the plain (unaggregated) JSON form even when clients ask for
 * `as=APIGroupDiscoveryList` first: they then fall back to one `/api/v1`, `/apis/<g>/<v>`
 * request per group version, which works the same.
 *
 * OpenAPI v3 is required: without it helm fails ("failed to download openapi"). The
 * documents need no schemas. Each resource gets a PATCH operation carrying
 * `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter; seeing that,
 * kubectl and helm conclude the server validates fields itself and skip client-side
 * schema validation (which would need real schemas).
 */
import {createHash} from 'node:crypto'
import {RESOURCES, apiVersionOf, groupVersions, verbsOf, type ResourceType} from './resources.js'

export const KUBE_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0',
  gitCommit: 'sandbox',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
}

export function apiVersions(address: string): object {
  return {kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress: address}]}
}

function groupEntry(group: string): object {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({groupVersion: `${group}/${gv.version}`, version: gv.version}))
  return {name: group, versions, preferredVersion: versions[0]}
}

export function apiGroupList(): object {
  const groups = [...new Set(groupVersions().map((gv) => gv.group))].filter((g) => g !== '')
  return {kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupEntry)}
}

export function apiGroup(group: string): object | undefined {
  if (!RESOURCES.some((r) => r.group === group && group !== '')) return undefined
  return {kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group)}
}

export function apiResourceList(group: string, version: string): object | undefined {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version)
  if (rs.length === 0) return undefined
  const resources: object[] = []
  for (const r of rs) {
    resources.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: verbsOf(r),
      ...(r.shortNames && {shortNames: r.shortNames}),
      ...(r.categories && {categories: r.categories}),
    })
    for (const sub of r.subresources ?? []) {
      if (sub === 'log') resources.push({name: `${r.plural}/log`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get']})
      else if (sub === 'scale')
        resources.push({
          name: `${r.plural}/scale`,
          singularName: '',
          namespaced: r.namespaced,
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale',
          verbs: ['get', 'patch', 'update'],
        })
      else resources.push({name: `${r.plural}/${sub}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update']})
    }
  }
  return {kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(rs[0]!), resources}
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`
}

/** `GET /openapi/v3`: where each group version's document lives (the hash lets clients cache). */
export function openApiIndex(): object {
  const paths: Record<string, {serverRelativeURL: string}> = {}
  for (const {group, version} of groupVersions()) {
    const p = gvPath(group, version)
    const hash = createHash('sha256')
      .update(JSON.stringify(openApiDocument(p)))
      .digest('hex')
      .slice(0, 32)
      .toUpperCase()
    paths[p] = {serverRelativeURL: `/openapi/v3/${p}?hash=${hash}`}
  }
  return {paths}
}

/** The tiny OpenAPI v3 document of one group version (`api/v1`, `apis/apps/v1`, ...). */
export function openApiDocument(gvPathName: string): object | undefined {
  const rs = RESOURCES.filter((r) => gvPath(r.group, r.version) === gvPathName)
  if (rs.length === 0) return undefined
  const paths: Record<string, object> = {}
  for (const r of rs) {
    if (r.review) paths[collectionPath(r)] = {post: reviewOperation(r)}
    else paths[itemPath(r)] = {patch: patchOperation(r)}
  }
  return {openapi: '3.0.0', info: {title: 'Kubernetes', version: KUBE_VERSION.gitVersion}, paths, components: {schemas: {}}}
}

function itemPath(r: ResourceType): string {
  const base = `/${gvPath(r.group, r.version)}`
  return r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}/{name}` : `${base}/${r.plural}/{name}`
}

function collectionPath(r: ResourceType): string {
  return `/${gvPath(r.group, r.version)}/${r.plural}`
}

/** Reviews (SelfSubjectAccessReview) are create-only: a POST on the collection, as in the real document. */
function reviewOperation(r: ResourceType): object {
  return {
    operationId: `create${r.kind}`,
    'x-kubernetes-action': 'post',
    'x-kubernetes-group-version-kind': {group: r.group, version: r.version, kind: r.kind},
    parameters: [
      {name: 'dryRun', in: 'query', schema: {type: 'string'}},
      {name: 'fieldManager', in: 'query', schema: {type: 'string'}},
      {name: 'fieldValidation', in: 'query', schema: {type: 'string'}},
    ],
    responses: {201: {description: 'Created'}},
  }
}

function patchOperation(r: ResourceType): object {
  return {
    operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
    'x-kubernetes-action': 'patch',
    'x-kubernetes-group-version-kind': {group: r.group, version: r.version, kind: r.kind},
    parameters: [
      {name: 'dryRun', in: 'query', schema: {type: 'string'}},
      {name: 'fieldManager', in: 'query', schema: {type: 'string'}},
      {name: 'fieldValidation', in: 'query', schema: {type: 'string'}},
      {name: 'force', in: 'query', schema: {type: 'boolean'}},
    ],
    responses: {200: {description: 'OK'}},
  }
}
