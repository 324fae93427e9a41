/**
 * `gate-kubernetes`: the Kubernetes side of a rollout is healthy.
 *
 *   - every Deployment fully available: observedGeneration ≥ generation (the controller has seen
 *     the latest spec), availableReplicas and updatedReplicas ≥ spec.replicas, Available=True;
 *   - no pod of those Deployments in CrashLoopBackOff, and no container restarting more than
 *     `maxRestarts` times while the gate watches (a crash loop between two looks shows up there);
 *   - every HPA with currentReplicas within [minReplicas, maxReplicas] and not pinned at its
 *     maximum (it could not absorb more load), unless `allowHpaAtMax`.
 *
 * A Deployment or HPA that does not exist is an error (NOT_FOUND). An API server that cannot
 * be reached, or an HPA that has never reported, is no data. Nothing to check is no data too.
 */
import {z} from 'zod'
import type {V1Deployment, V1LabelSelector, V1Pod, V2HorizontalPodAutoscaler} from '@kubernetes/client-node'
import {duration} from '../config/schema.js'
import {k8sApis, k8sErrorMessage, k8sStatus, type K8sApis} from '../k8s/client.js'
import {formatDuration} from '../util/duration.js'
import {failGate, GATE_FAILED, ms, NO_DATA, NOT_FOUND, watch, watchInputs, watchText} from './gate-common.js'
import {defineStep, type StepContext} from './types.js'

const name = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {error: 'expected a Kubernetes object name (lower case, digits, dashes, dots)'})

const inputs = z.strictObject({
  /** Deployment names; default: the environment's kubernetes.deployments. */
  deployments: z.array(name).optional(),
  /** HorizontalPodAutoscaler names; default: the environment's kubernetes.hpas. */
  hpas: z.array(name).optional(),
  /** Default: the environment's kubernetes.namespace (else the context's). */
  namespace: name.optional(),
  /** Container restarts tolerated during the watch, per container. */
  maxRestarts: z.number().int().min(0).default(0),
  allowHpaAtMax: z.boolean().default(false),
  ...watchInputs('10s'),
  /** Per API call. */
  timeout: duration().default('15s'),
})
type Inputs = z.output<typeof inputs>

type Problem = {code: typeof GATE_FAILED | typeof NO_DATA | typeof NOT_FOUND; text: string}

function targets(ctx: StepContext, i: Inputs): {deployments: string[]; hpas: string[]} {
  return {deployments: i.deployments ?? ctx.environment?.kubernetes?.deployments ?? [], hpas: i.hpas ?? ctx.environment?.kubernetes?.hpas ?? []}
}

/** A label selector as the API's query string wants it: app=web,tier in (a,b),!legacy */
function selectorString(s: V1LabelSelector | undefined): string {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`)
  for (const e of s?.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`)
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`)
    else if (e.operator === 'Exists') parts.push(e.key)
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`)
  }
  return parts.join(',')
}

function deploymentProblems(d: V1Deployment): string[] {
  const want = d.spec?.replicas ?? 1
  const st = d.status ?? {}
  const available = d.status?.conditions?.find((c) => c.type === 'Available')
  const out: string[] = []
  if ((st.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
    out.push(`generation ${d.metadata?.generation} not yet observed (observedGeneration ${st.observedGeneration ?? 'none'})`)
  if ((st.availableReplicas ?? 0) < want) out.push(`${st.availableReplicas ?? 0}/${want} replicas available`)
  if ((st.updatedReplicas ?? 0) < want) out.push(`${st.updatedReplicas ?? 0}/${want} replicas updated`)
  if (available?.status !== 'True') out.push(`Available=${available?.status ?? 'missing'}${available?.reason ? ` (${available.reason})` : ''}`)
  return out
}

export default defineStep({
  kind: 'gate-kubernetes',
  description: 'Kubernetes readiness: Deployments fully available, no crash loops or rising restarts, HPAs within bounds and not at max',
  needs: ['kubernetes'],
  inputs,
  mutates: () => false,
  title: (i) => `Kubernetes gate${i.deployments ? ` ${i.deployments.join(', ')}` : ''}`,

  async plan(ctx, i) {
    const t = targets(ctx, i)
    const d = ms(i.duration)
    const interval = ms(i.interval, 10_000)
    const ns = i.namespace ?? ctx.environment?.kubernetes?.namespace ?? '(context namespace)'
    if (t.deployments.length + t.hpas.length === 0) {
      return {
        summary: 'no Deployments or HPAs named (with.deployments/hpas or kubernetes.deployments/hpas): this gate will fail with no data',
        changes: [{action: 'check', target: 'kubernetes', detail: 'nothing to check: fails'}],
        estimateMs: 0,
      }
    }
    return {
      summary: `in namespace ${ns}: Deployments ${t.deployments.join(', ') || '(none)'} available, no crash loops${i.maxRestarts ? ` or > ${i.maxRestarts} restarts` : ' or restarts'}; HPAs ${t.hpas.join(', ') || '(none)'} within bounds${i.allowHpaAtMax ? '' : ', not at max'}; ${watchText(d, interval)}`,
      changes: [
        ...t.deployments.map((n) => ({action: 'check' as const, target: `deployment ${ns}/${n}`})),
        ...t.hpas.map((n) => ({action: 'check' as const, target: `hpa ${ns}/${n}`})),
      ],
      estimateMs: d,
      worstCaseMs: d + 2 * ms(i.timeout, 15_000),
    }
  },

  async warmup(ctx) {
    await k8sApis(ctx.environment)
  },

  async run(ctx, i) {
    const t = targets(ctx, i)
    const d = ms(i.duration)
    const interval = ms(i.interval, 10_000)
    const timeoutMs = ms(i.timeout, 15_000)
    let n = 0
    let report: Record<string, unknown> = {}
    const evidence = (api?: K8sApis) => ({context: api?.context, server: api?.server, namespace: api ? (i.namespace ?? api.namespace) : i.namespace, evaluations: n, ...report})
    if (t.deployments.length + t.hpas.length === 0)
      return failGate(
        ctx,
        'no data: no Deployments or HPAs to check; name them in with.deployments/hpas or in kubernetes.deployments/hpas of clipper-ops.yaml',
        evidence(),
        NO_DATA,
      )

    const api = await k8sApis(ctx.environment)
    const ns = i.namespace ?? api.namespace
    /** restartCount per pod/container at first sight: the baseline "rising" is measured from. */
    const baseline = new Map<string, number>()

    ctx.log(`${t.deployments.length} Deployment(s), ${t.hpas.length} HPA(s) in ${ns} at ${api.server}, ${watchText(d, interval)}`)
    await watch(ctx, d, interval, async (round) => {
      n = round
      const problems: Problem[] = []
      const deployments: Record<string, unknown>[] = []
      const hpas: Record<string, unknown>[] = []
      const crashLooping: string[] = []
      const restarts: Record<string, {from: number; to: number}> = {}
      let pods = 0
      // An API error: 404 names what is missing; anything else means we cannot see (no data).
      const apiProblem = (what: string, error: unknown): void => {
        if (ctx.signal.aborted) throw ctx.signal.reason
        if (k8sStatus(error) === 404) problems.push({code: NOT_FOUND, text: `${what} not found in namespace ${ns}`})
        else {
          const why = (error as Error)?.name === 'TimeoutError' ? `no answer within ${i.timeout}` : k8sErrorMessage(error)
          problems.push({code: NO_DATA, text: `could not read ${what} from ${api.server}: ${why}`})
        }
      }

      for (const name of t.deployments) {
        let dep: V1Deployment
        try {
          dep = await api.read<V1Deployment>({apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: ns}, ctx.signal, timeoutMs)
        } catch (error) {
          apiProblem(`Deployment ${name}`, error)
          continue
        }
        const st = dep.status ?? {}
        deployments.push({
          name,
          replicas: dep.spec?.replicas ?? 1,
          available: st.availableReplicas ?? 0,
          updated: st.updatedReplicas ?? 0,
          ready: st.readyReplicas ?? 0,
          generation: dep.metadata?.generation,
          observedGeneration: st.observedGeneration,
          availableCondition: st.conditions?.find((c) => c.type === 'Available')?.status ?? 'missing',
        })
        const bad = deploymentProblems(dep)
        if (bad.length) problems.push({code: GATE_FAILED, text: `Deployment ${name} not fully available: ${bad.join(', ')}`})

        let list
        try {
          list = await api.list<V1Pod>({apiVersion: 'v1', kind: 'Pod', namespace: ns, labelSelector: selectorString(dep.spec?.selector)}, ctx.signal, timeoutMs)
        } catch (error) {
          apiProblem(`pods of Deployment ${name}`, error)
          continue
        }
        for (const pod of list.items) {
          pods++
          const podName = pod.metadata?.name ?? '?'
          for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
            const key = `${podName}/${cs.name}`
            if (cs.state?.waiting?.reason === 'CrashLoopBackOff')
              crashLooping.push(
                `${key} (restarts ${cs.restartCount}${cs.lastState?.terminated?.exitCode !== undefined ? `, last exit code ${cs.lastState.terminated.exitCode}` : ''})`,
              )
            const from = baseline.get(key)
            if (from === undefined) baseline.set(key, cs.restartCount)
            else if (cs.restartCount - from > i.maxRestarts) restarts[key] = {from, to: cs.restartCount}
          }
        }
      }
      if (crashLooping.length) problems.push({code: GATE_FAILED, text: `${crashLooping.length} container(s) in CrashLoopBackOff: ${crashLooping.join(', ')}`})
      const rising = Object.entries(restarts)
      if (rising.length) problems.push({code: GATE_FAILED, text: `restarts during the watch: ${rising.map(([k, r]) => `${k} ${r.from} → ${r.to}`).join(', ')}`})

      for (const name of t.hpas) {
        let hpa
        try {
          hpa = await api.read<V2HorizontalPodAutoscaler>({apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name, namespace: ns}, ctx.signal, timeoutMs)
        } catch (error) {
          apiProblem(`HPA ${name}`, error)
          continue
        }
        const min = hpa.spec?.minReplicas ?? 1
        const max = hpa.spec?.maxReplicas ?? 0
        const current = hpa.status?.currentReplicas
        hpas.push({name, current, desired: hpa.status?.desiredReplicas, min, max})
        if (current === undefined) problems.push({code: NO_DATA, text: `HPA ${name} has not reported its replicas yet`})
        else if (current < min || current > max) problems.push({code: GATE_FAILED, text: `HPA ${name} has ${current} replicas, outside [${min}, ${max}]`})
        // min == max is a fixed size, not a pinned autoscaler.
        else if (!i.allowHpaAtMax && min < max && current >= max)
          problems.push({code: GATE_FAILED, text: `HPA ${name} is pinned at its maximum (${current}/${max}): it cannot scale out any further`})
      }

      report = {deployments, pods, crashLooping, restarts, hpas}
      ctx.log(
        `evaluation ${round}: ${deployments.map((x) => `${x.name} ${x.available}/${x.replicas}`).join(', ')}${hpas.length ? `; HPAs ${hpas.map((h) => `${h.name} ${h.current}/${h.max}`).join(', ')}` : ''}`,
      )
      if (problems.length) {
        const code = problems.some((p) => p.code === GATE_FAILED) ? GATE_FAILED : problems.some((p) => p.code === NOT_FOUND) ? NOT_FOUND : NO_DATA
        return failGate(ctx, `${code === NO_DATA ? 'no data: ' : ''}${problems.map((p) => p.text).join('; ')} (namespace ${ns}, evaluation ${round})`, evidence(api), code)
      }
    })
    const summary = `${t.deployments.length} Deployment(s) available, ${report.pods} pod(s) without crash loops, ${t.hpas.length} HPA(s) within bounds in ${n} evaluation(s)${d ? ` over ${formatDuration(d)}` : ''}`
    return {summary, outputs: evidence(api), changes: [{action: 'check', target: `namespace ${ns}`, detail: summary}]}
  },
})
