/**
 * The parts of EKS that moto 5.2.1 lacks or cannot be made to show: add-ons (it answers 404 to
 * CreateAddon, DescribeAddon and ListAddons) and a node group's health (moto's are always
 * ACTIVE; `sandbox fault --nodegroup` degrades one, as AWS reports a node group that lost
 * nodes). Served on EKS's REST-JSON protocol; clusters and node groups stay with moto.
 */
import {DescribeClusterCommand} from '@aws-sdk/client-eks'
import type {MotoClients} from './moto-clients.js'
import type {OperationInfo} from './operation.js'
import {newRequestId, renderError, type HttpAnswer} from './wire-errors.js'

const ADDON_OPERATIONS = new Set(['CreateAddon', 'DescribeAddon', 'ListAddons', 'DeleteAddon', 'UpdateAddon'])

interface Addon {
  addonName: string
  clusterName: string
  status: 'ACTIVE' | 'DEGRADED' | 'DELETING'
  addonVersion: string
  addonArn: string
  createdAt: number
  modifiedAt: number
  health: {issues: {code: string; message: string}[]}
  tags: Record<string, string>
}

export interface NodegroupHealth {
  status: 'ACTIVE' | 'DEGRADED'
  issues: {code: string; message: string; resourceIds?: string[]}[]
}

const VERSIONS: Record<string, string> = {'vpc-cni': 'v1.18.1-eksbuild.1', coredns: 'v1.11.1-eksbuild.9', 'kube-proxy': 'v1.29.3-eksbuild.2'}

export class EksExtras {
  private readonly addons = new Map<string, Map<string, Addon>>()
  /** Node group health set by a fault, by "cluster/nodegroup". */
  private readonly nodegroupHealth = new Map<string, NodegroupHealth>()
  /** The API server every cluster's endpoint is: the sandbox has one Kubernetes, its stand-in. */
  private endpoint?: string

  constructor(private readonly moto: MotoClients) {}

  handles(operation: string): boolean {
    return ADDON_OPERATIONS.has(operation)
  }

  async handle(info: OperationInfo, body: Buffer): Promise<HttpAnswer> {
    const cluster = info.params.clusterName ?? ''
    const exists = await this.moto
      .eks(info.region)
      .send(new DescribeClusterCommand({name: cluster}))
      .then(() => true)
      .catch(() => false)
    if (!exists) return this.error(404, 'ResourceNotFoundException', `No cluster found for name: ${cluster}.`)
    const list = this.addons.get(cluster) ?? new Map<string, Addon>()
    this.addons.set(cluster, list)
    const input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {}
    switch (info.operation) {
      case 'CreateAddon': {
        const name = String(input.addonName ?? '')
        if (list.has(name)) return this.error(409, 'ResourceInUseException', `Addon already exists with name: ${name} on cluster: ${cluster}`)
        return this.ok({addon: this.put(info.region, cluster, name, input)})
      }
      case 'DescribeAddon': {
        const a = list.get(info.params.addonName ?? '')
        return a ? this.ok({addon: a}) : this.error(404, 'ResourceNotFoundException', `No addon: ${info.params.addonName} found in cluster: ${cluster}`)
      }
      case 'ListAddons':
        return this.ok({addons: [...list.keys()].sort()})
      case 'UpdateAddon': {
        const a = list.get(info.params.addonName ?? '')
        if (!a) return this.error(404, 'ResourceNotFoundException', `No addon: ${info.params.addonName} found in cluster: ${cluster}`)
        if (typeof input.addonVersion === 'string') a.addonVersion = input.addonVersion
        a.modifiedAt = Date.now() / 1000
        return this.ok({update: {id: newRequestId(), status: 'Successful', type: 'AddonUpdate', params: [], createdAt: a.modifiedAt, errors: []}})
      }
      default: {
        const a = list.get(info.params.addonName ?? '')
        if (!a) return this.error(404, 'ResourceNotFoundException', `No addon: ${info.params.addonName} found in cluster: ${cluster}`)
        list.delete(a.addonName)
        return this.ok({addon: {...a, status: 'DELETING'}})
      }
    }
  }

  /** Seeding: add-ons installed on a cluster that exists in moto. */
  seedAddons(region: string, cluster: string, names: string[]): void {
    const list = this.addons.get(cluster) ?? new Map<string, Addon>()
    this.addons.set(cluster, list)
    for (const n of names) if (!list.has(n)) list.set(n, this.addon(region, cluster, n, {}))
  }

  setNodegroupHealth(cluster: string, nodegroup: string, health: NodegroupHealth | undefined): void {
    if (health && health.status !== 'ACTIVE') this.nodegroupHealth.set(`${cluster}/${nodegroup}`, health)
    else this.nodegroupHealth.delete(`${cluster}/${nodegroup}`)
  }

  /** Clusters' endpoint is this API server: `aws eks update-kubeconfig` then reaches it (a cluster Terraform made too). */
  setEndpoint(url: string): void {
    this.endpoint = url
  }

  /** moto's answers, with the endpoint the sandbox gives a cluster and the health a fault gave a node group. */
  rewrite(info: OperationInfo): ((text: string) => string) | undefined {
    const endpoint = this.endpoint
    if (info.operation === 'DescribeCluster' && endpoint) {
      return (text) => {
        const out = JSON.parse(text) as {cluster?: Record<string, unknown>}
        if (out.cluster) out.cluster.endpoint = endpoint
        return JSON.stringify(out)
      }
    }
    if (info.operation !== 'DescribeNodegroup' && info.operation !== 'CreateNodegroup') return undefined
    const health = this.nodegroupHealth.get(`${info.params.clusterName}/${info.params.nodegroupName}`)
    return (text) => {
      const out = JSON.parse(text) as {nodegroup?: Record<string, unknown>}
      if (!out.nodegroup) return text
      if (health) Object.assign(out.nodegroup, {status: health.status, health: {issues: health.issues}})
      // moto answers remote access with an SSH key "eksKeypair" for a node group made without
      // any; AWS answers none, and Terraform would otherwise plan to replace the node group.
      if (JSON.stringify(out.nodegroup.remoteAccess) === '{"ec2SshKey":"eksKeypair"}') delete out.nodegroup.remoteAccess
      return JSON.stringify(out)
    }
  }

  /** `sandbox fault --clear`: every node group healthy again. */
  clearFaults(): void {
    this.nodegroupHealth.clear()
  }

  private put(region: string, cluster: string, name: string, input: Record<string, unknown>): Addon {
    const a = this.addon(region, cluster, name, input)
    this.addons.get(cluster)!.set(name, a)
    return a
  }

  private addon(region: string, cluster: string, name: string, input: Record<string, unknown>): Addon {
    const now = Date.now() / 1000
    return {
      addonName: name,
      clusterName: cluster,
      // Installed at once: the sandbox has no add-on to wait for.
      status: 'ACTIVE',
      addonVersion: typeof input.addonVersion === 'string' ? input.addonVersion : (VERSIONS[name] ?? 'v1.0.0-eksbuild.1'),
      addonArn: `arn:aws:eks:${region}:123456789012:addon/${cluster}/${name}/${newRequestId()}`,
      createdAt: now,
      modifiedAt: now,
      health: {issues: []},
      tags: (input.tags as Record<string, string>) ?? {},
    }
  }

  private ok(out: unknown): HttpAnswer {
    return {status: 200, headers: {'content-type': 'application/json', 'x-amzn-requestid': newRequestId()}, body: JSON.stringify(out)}
  }

  private error(status: number, code: string, message: string): HttpAnswer {
    return renderError('rest-json', 'eks', {status, code, message})
  }
}
