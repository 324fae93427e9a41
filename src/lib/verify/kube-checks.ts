/**
 * Checks that read the Kubernetes API (through @kubernetes/client-node, imported on first use):
 * the kube context reaches the configured EKS cluster, the runbooks' verbs are permitted, nodes
 * are Ready, and the workloads are as the seeds' layout wants them.
 */
import {awsClient} from '../aws/clients.js'
import {errorMessage} from '../errors.js'
import type {V1Ingress, V1Node, V1SelfSubjectAccessReview, V2HorizontalPodAutoscaler} from '@kubernetes/client-node'
import {k8sApis, k8sErrorMessage} from '../k8s/client.js'
import {fail, pass, verdict, warn, type Check} from './check.js'
import type {Environment} from '../config/schema.js'

/** What the built-in runbooks do in the namespace: read workloads (gates), and what helm writes. */
const VERBS: {verb: string; group: string; resource: string}[] = [
  ...['get', 'list', 'watch'].flatMap((verb) => [
    {verb, group: 'apps', resource: 'deployments'},
    {verb, group: 'apps', resource: 'replicasets'},
    {verb, group: '', resource: 'pods'},
    {verb, group: 'autoscaling', resource: 'horizontalpodautoscalers'},
  ]),
  ...['create', 'update', 'patch', 'delete'].flatMap((verb) => [
    {verb, group: '', resource: 'secrets'},
    {verb, group: '', resource: 'configmaps'},
    {verb, group: '', resource: 'services'},
    {verb, group: 'apps', resource: 'deployments'},
    {verb, group: 'networking.k8s.io', resource: 'ingresses'},
  ]),
]

/** The configured EKS cluster as EKS describes it; undefined when it does not exist (yet). */
async function describeCluster(env: Environment, signal: AbortSignal) {
  const eks = await awsClient('eks', env)
  const {DescribeClusterCommand} = await import('@aws-sdk/client-eks')
  try {
    return (await eks.send(new DescribeClusterCommand({name: env.kubernetes!.cluster}), {abortSignal: signal})).cluster
  } catch (error) {
    if ((error as {name?: string}).name === 'ResourceNotFoundException') return undefined
    throw error
  }
}

/** Before a first provision there is no cluster to reach: say so, as a warning (the plan creates it). */
const notYet = (name: string) =>
  warn(`EKS cluster ${name} does not exist yet (a first provision creates it); afterwards point the kube context at it: aws eks update-kubeconfig --name ${name}`)

const context: Check = {
  id: 'kube-context',
  phase: 'pre',
  title: 'kube context reachable, pointing at the configured EKS cluster',
  applies: (env) => Boolean(env.kubernetes),
  async run(ctx, env) {
    const name = env.kubernetes?.cluster
    const c = name && env.aws ? await describeCluster(env, ctx.signal) : undefined
    if (name && env.aws && !c) return notYet(name)
    const api = await k8sApis(env)
    const version = await api.version(ctx.signal)
    const where = `context ${api.context} → ${api.server} (Kubernetes ${version.gitVersion})`
    if (!name || !c) return pass(where)
    // aws eks update-kubeconfig names the cluster entry by the cluster's ARN; else compare endpoints.
    const entry = api.kc.getContextObject(api.context)?.cluster
    const host = (u?: string) => (u ? new URL(u).host : undefined)
    if (entry === c?.arn || host(c?.endpoint) === host(api.server)) return pass(`${where} is EKS cluster ${name}`)
    return fail(`${where}, which is not EKS cluster ${name} (${c.arn}, ${c.endpoint}); switch with: aws eks update-kubeconfig --name ${name}`)
  },
}

const permissions: Check = {
  id: 'kube-permissions',
  phase: 'pre',
  title: 'Permissions for what the runbooks do in the namespace',
  applies: (env) => Boolean(env.kubernetes),
  async run(ctx, env) {
    const name = env.kubernetes?.cluster
    if (name && env.aws && !(await describeCluster(env, ctx.signal))) return notYet(name)
    const api = await k8sApis(env)
    const denied: string[] = []
    await Promise.all(
      VERBS.map(async (v) => {
        const review: V1SelfSubjectAccessReview = {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {resourceAttributes: {namespace: api.namespace, ...v}},
        }
        const r = await api.create(review, ctx.signal)
        if (!r.status?.allowed) denied.push(`${v.verb} ${v.resource}${v.group ? `.${v.group}` : ''}`)
      }),
    )
    return denied.length ? fail(`not allowed in ${api.namespace}: ${denied.sort().join(', ')}`) : pass(`${VERBS.length} verb/resource pairs allowed in ${api.namespace}`)
  },
}

const nodes: Check = {
  id: 'kube-nodes',
  phase: 'post',
  title: 'Nodes Ready, as many as the node groups want',
  applies: (env) => Boolean(env.kubernetes && env.verify?.eks),
  async run(ctx, env) {
    const api = await k8sApis(env)
    const list = await api.list<V1Node>({apiVersion: 'v1', kind: 'Node', clusterScoped: true}, ctx.signal)
    const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    const notReady = list.items.filter((n) => !ready.includes(n)).map((n) => n.metadata?.name)
    let want = 0
    if (env.aws && env.kubernetes?.cluster) {
      const eks = await awsClient('eks', env)
      const {DescribeNodegroupCommand} = await import('@aws-sdk/client-eks')
      for (const group of Object.keys(env.verify!.eks!.nodeGroups)) {
        const ng = await eks.send(new DescribeNodegroupCommand({clusterName: env.kubernetes.cluster, nodegroupName: group}), {abortSignal: ctx.signal}).catch(() => undefined)
        want += ng?.nodegroup?.scalingConfig?.desiredSize ?? 0
      }
    }
    const problems: string[] = []
    if (notReady.length) problems.push(`not Ready: ${notReady.join(', ')}`)
    if (ready.length < want) problems.push(`${ready.length} node(s) Ready, the node groups want ${want}`)
    if (list.items.length === 0) problems.push('no nodes')
    return verdict(problems, `${ready.length} node(s) Ready${want ? ` of ${want} wanted` : ''}`)
  },
}

const workloads: Check = {
  id: 'kube-workloads',
  phase: 'post',
  title: 'Deployments fully available, no crash loops',
  applies: (env) => Boolean(env.kubernetes?.deployments.length),
  async run(ctx) {
    // The same judgement as the rollout's Kubernetes gate, looked at once.
    const gate = await ctx.kinds.load('gate-kubernetes')
    try {
      const r = await gate.run(ctx, gate.inputs.parse({duration: '0s', hpas: [], allowHpaAtMax: true}))
      return pass(r.summary ?? 'available')
    } catch (error) {
      return fail(errorMessage(error).replace(/\s*\n\s*/g, '; '))
    }
  },
}

const hpas: Check = {
  id: 'kube-hpas',
  phase: 'post',
  title: 'HPAs with the configured min and max',
  applies: (env) => Boolean(env.kubernetes && Object.keys(env.verify?.hpas ?? {}).length),
  async run(ctx, env) {
    const api = await k8sApis(env)
    const problems: string[] = []
    const seen: string[] = []
    for (const [name, want] of Object.entries(env.verify!.hpas)) {
      try {
        const h = await api.read<V2HorizontalPodAutoscaler>({apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name}, ctx.signal)
        const min = h.spec?.minReplicas ?? 1
        const max = h.spec?.maxReplicas
        if (min !== want.min || max !== want.max) problems.push(`HPA ${name} scales ${min}–${max}, expected ${want.min}–${want.max}`)
        seen.push(`${name} ${min}–${max} (now ${h.status?.currentReplicas ?? '?'})`)
      } catch (error) {
        problems.push(`HPA ${name}: ${k8sErrorMessage(error)}`)
      }
    }
    return verdict(problems, seen.join(', '))
  },
}

const ingresses: Check = {
  id: 'kube-ingress',
  phase: 'post',
  title: 'Ingress with an address',
  applies: (env) => Boolean(env.kubernetes && env.verify?.ingresses.length),
  async run(ctx, env) {
    const api = await k8sApis(env)
    const problems: string[] = []
    const seen: string[] = []
    for (const name of env.verify!.ingresses) {
      try {
        const ing = await api.read<V1Ingress>({apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name}, ctx.signal)
        const lb = ing.status?.loadBalancer?.ingress?.[0]
        const address = lb?.hostname ?? lb?.ip
        if (!address) problems.push(`ingress ${name} has no address yet (no load balancer)`)
        else seen.push(`${name} → ${address}${ing.spec?.tls?.length ? ' (TLS)' : ''}`)
      } catch (error) {
        problems.push(`ingress ${name}: ${k8sErrorMessage(error)}`)
      }
    }
    return verdict(problems, seen.join(', '))
  },
}

export const KUBE_CHECKS: Check[] = [context, permissions, nodes, workloads, hpas, ingresses]
