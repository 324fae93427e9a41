/**
 * Tiny stand-ins for the kube-controller-manager: Deployment -> ReplicaSet -> Pods, with the
 * statuses that kstatus (helm --wait) and `kubectl rollout status` judge; Jobs that complete
 * at once (helm hooks wait for them); HPA status; LoadBalancer Service ingress IPs.
 *
 * Controllers are level-triggered: any store change schedules one reconcile pass on
 * setImmediate (coalesced), and a pass writes only what differs, so passes converge and stop.
 * Writes go through the store like any client's, so watchers see them as events.
 */
import {RESOURCES, resourceForKind, type ResourceType} from './resources.js'
import {matchesSelector} from './selectors.js'
import type {K8sObject, ObjectStore, OwnerReference} from './store.js'
import {deepEqual, randomSuffix, safeHash, timestamp} from './util.js'

export interface DeploymentHealth {
  /** false: pods run but never become Ready, so the Deployment is not Available. */
  ready?: boolean
  /** true: containers wait in CrashLoopBackOff with a rising restartCount (implies not ready). */
  crashLoop?: boolean
  /**
   * Only pods with a container running this image are affected (a "bad release"): a rollout
   * to it fails, a rollback to the previous image recovers. Without it, every pod is.
   */
  image?: string
}

const res = (kind: string): ResourceType => RESOURCES.find((r) => r.kind === kind)!
const DEPLOYMENTS = res('Deployment')
const REPLICASETS = res('ReplicaSet')
const PODS = res('Pod')
const REVISION = 'deployment.kubernetes.io/revision'
const HASH = 'pod-template-hash'

/** How often unhealthy workloads are revisited (restart counts, progress deadlines). */
const TICK_MS = 1000

export class Controllers {
  private readonly health = new Map<string, DeploymentHealth>()
  private readonly unsubscribe: () => void
  private scheduled = false
  private closed = false
  private ticker: NodeJS.Timeout | undefined
  private ticks = 0
  private nodeIndex = 0
  private podIp = 10
  private lbIp = 10
  /** Consecutive passes that wrote something; a runaway loop would show up here. */
  private busyPasses = 0

  constructor(private readonly store: ObjectStore) {
    this.unsubscribe = store.subscribe(() => this.schedule())
  }

  setDeploymentHealth(namespace: string, name: string, h: DeploymentHealth): void {
    const key = `${namespace}/${name}`
    const next: DeploymentHealth = {...this.health.get(key), ...h}
    if (!('image' in h)) delete next.image // a knob without `image` covers the whole Deployment again
    if (next.ready !== false && !next.crashLoop) this.health.delete(key)
    else this.health.set(key, next)
    this.updateTicker()
    this.schedule()
  }

  close(): void {
    this.closed = true
    this.unsubscribe()
    if (this.ticker) clearInterval(this.ticker)
  }

  schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (!this.closed) this.reconcileAll()
    })
  }

  /** One pass over everything, in dependency order so a fresh Deployment settles in one or two passes. */
  reconcileAll(): void {
    const before = this.store.resourceVersion
    const each = (kind: string, fn: (o: K8sObject) => void): void => {
      for (const o of this.store.list(res(kind))) {
        try {
          fn(o)
        } catch (error) {
          // Typically an object deleted or changed mid-pass; the event that did it schedules another pass.
          if (process.env.K8S_STANDIN_DEBUG) console.error(`k8s stand-in: reconciling ${kind} ${o.metadata.name}:`, error)
        }
      }
    }
    each('Deployment', (d) => this.reconcileDeploymentReplicaSets(d))
    each('ReplicaSet', (rs) => this.reconcileReplicaSetPods(rs))
    each('Pod', (pod) => this.reconcilePodStatus(pod))
    each('ReplicaSet', (rs) => this.reconcileReplicaSetStatus(rs))
    each('Deployment', (d) => this.reconcileDeploymentStatus(d))
    each('Job', (job) => this.reconcileJob(job))
    each('HorizontalPodAutoscaler', (hpa) => this.reconcileHpa(hpa))
    each('Service', (svc) => this.reconcileService(svc))
    each('ResourceQuota', (q) => this.reconcileQuota(q))
    this.busyPasses = this.store.resourceVersion === before ? 0 : this.busyPasses + 1
    if (this.busyPasses === 100) process.emitWarning('k8s stand-in controllers keep writing after 100 passes; a reconcile is not idempotent')
  }

  // --- Deployments -------------------------------------------------------------------------

  private reconcileDeploymentReplicaSets(d: K8sObject): void {
    const ns = d.metadata.namespace!
    const hash = safeHash(d.spec.template)
    const owned = this.store.list(REPLICASETS, ns).filter((rs) => controllerUid(rs) === d.metadata.uid)
    const maxRevision = Math.max(0, ...owned.map(revisionOf))
    let current = owned.find((rs) => rs.metadata.labels?.[HASH] === hash)
    if (!current) {
      const template = structuredClone(d.spec.template ?? {})
      template.metadata = {...template.metadata, labels: {...template.metadata?.labels, [HASH]: hash}}
      current = this.store.create(REPLICASETS, {
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: ns,
          labels: template.metadata.labels,
          annotations: {[REVISION]: String(maxRevision + 1), 'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas)},
          ownerReferences: [controllerRef(d)],
        },
        spec: {replicas: d.spec.replicas, selector: {matchLabels: {...d.spec.selector?.matchLabels, [HASH]: hash}}, template},
      })
    } else {
      // Going back to an older template (rollback) makes that ReplicaSet the newest revision again.
      const revision = revisionOf(current) === maxRevision ? maxRevision : maxRevision + 1
      if (current.spec.replicas !== d.spec.replicas || revisionOf(current) !== revision) {
        current.spec.replicas = d.spec.replicas
        current.metadata.annotations = {...current.metadata.annotations, [REVISION]: String(revision), 'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas)}
        current = this.store.update(REPLICASETS, current)
      }
    }
    // A simplified rolling update: the new ReplicaSet gets all replicas at once, and old ones
    // shrink as its pods become ready, so a bad release leaves the old pods serving (Recreate
    // drops them at once). Old ReplicaSets stay, at zero, as rollout history.
    const old = owned.filter((rs) => rs.metadata.uid !== current!.metadata.uid).sort((a, b) => revisionOf(a) - revisionOf(b))
    const newReady = this.store.list(PODS, ns).filter((p) => controllerUid(p) === current!.metadata.uid && isPodReady(p)).length
    let budget = d.spec.strategy?.type === 'Recreate' ? 0 : Math.max(0, (d.spec.replicas ?? 1) - newReady)
    for (const rs of [...old].reverse()) {
      const keep = Math.min(rs.spec.replicas ?? 0, budget)
      budget -= keep
      if (rs.spec.replicas !== keep) this.store.update(REPLICASETS, {...rs, spec: {...rs.spec, replicas: keep}})
    }
    for (const rs of old.slice(0, Math.max(0, old.length - (d.spec.revisionHistoryLimit ?? 10)))) this.store.delete(REPLICASETS, ns, rs.metadata.name!)
    const revision = String(revisionOf(current))
    if (d.metadata.annotations?.[REVISION] !== revision) {
      const latest = this.store.get(DEPLOYMENTS, ns, d.metadata.name!)
      if (latest) this.store.update(DEPLOYMENTS, {...latest, metadata: {...latest.metadata, annotations: {...latest.metadata.annotations, [REVISION]: revision}}})
    }
  }

  private reconcileDeploymentStatus(d: K8sObject): void {
    const ns = d.metadata.namespace!
    const hash = safeHash(d.spec.template)
    const owned = this.store.list(REPLICASETS, ns).filter((rs) => controllerUid(rs) === d.metadata.uid)
    const current = owned.find((rs) => rs.metadata.labels?.[HASH] === hash)
    const ownedUids = new Set(owned.map((rs) => rs.metadata.uid))
    const pods = this.store.list(PODS, ns).filter((p) => ownedUids.has(controllerUid(p)))
    const updated = pods.filter((p) => controllerUid(p) === current?.metadata.uid)
    const ready = pods.filter(isPodReady).length
    const want: number = d.spec.replicas ?? 1
    const maxUnavailable = resolveIntOrPercent(d.spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%', want)
    const now = timestamp()
    const prev: Array<Record<string, string>> = d.status?.conditions ?? []
    const rsName = current?.metadata.name ?? d.metadata.name

    const available = want === 0 || ready >= Math.max(1, want - (d.spec.strategy?.type === 'Recreate' ? 0 : maxUnavailable))
    const complete = updated.length === want && pods.length === want && ready >= want
    let progressing = condition(
      prev,
      'Progressing',
      'True',
      complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
      complete ? `ReplicaSet "${rsName}" has successfully progressed.` : `ReplicaSet "${rsName}" is progressing.`,
      now,
    )
    // Progress deadline: an unfinished rollout of the same generation that has not moved for
    // progressDeadlineSeconds is reported as failed, which `kubectl rollout status` turns into an error.
    const prevProgressing = prev.find((c) => c.type === 'Progressing')
    const sameGeneration = d.status?.observedGeneration === d.metadata.generation
    if (!complete && sameGeneration && prevProgressing) {
      const since = Date.parse(prevProgressing.lastUpdateTime ?? now)
      const exceeded = prevProgressing.reason === 'ProgressDeadlineExceeded' || Date.now() - since > (d.spec.progressDeadlineSeconds ?? 600) * 1000
      if (exceeded) progressing = condition(prev, 'Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`, now)
    }
    const status = {
      observedGeneration: d.metadata.generation,
      replicas: pods.length,
      updatedReplicas: updated.length,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(want - ready > 0 && {unavailableReplicas: want - ready}),
      conditions: [
        available
          ? condition(prev, 'Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now)
          : condition(prev, 'Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now),
        progressing,
      ],
    }
    this.writeStatus(DEPLOYMENTS, d, status)
  }

  // --- ReplicaSets and Pods ----------------------------------------------------------------

  private reconcileReplicaSetPods(rs: K8sObject): void {
    const ns = rs.metadata.namespace!
    const pods = this.store.list(PODS, ns).filter((p) => controllerUid(p) === rs.metadata.uid)
    const want: number = rs.spec.replicas ?? 1
    const template = rs.spec.template ?? {}
    for (let i = pods.length; i < want; i++) {
      // The scheduler places pods on Ready nodes only.
      const nodes = this.store.list(res('Node')).filter((n) => (n.status?.conditions ?? []).some((c: {type: string; status: string}) => c.type === 'Ready' && c.status === 'True'))
      const node = nodes.length > 0 ? nodes[this.nodeIndex++ % nodes.length]!.metadata.name : undefined
      this.store.create(PODS, {
        metadata: {
          name: `${rs.metadata.name}-${randomSuffix()}`,
          namespace: ns,
          labels: {...template.metadata?.labels},
          ...(template.metadata?.annotations && {annotations: {...template.metadata.annotations}}),
          ownerReferences: [controllerRef(rs)],
        },
        spec: {...structuredClone(template.spec ?? {}), ...(node && {nodeName: node})},
      })
    }
    for (const pod of pods.slice(want)) this.store.delete(PODS, ns, pod.metadata.name!)
  }

  private reconcileReplicaSetStatus(rs: K8sObject): void {
    const pods = this.store.list(PODS, rs.metadata.namespace).filter((p) => controllerUid(p) === rs.metadata.uid)
    const ready = pods.filter(isPodReady).length
    this.writeStatus(REPLICASETS, rs, {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => matchesSelector(rs.spec.selector, p.metadata.labels)).length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation,
    })
  }

  /** The Deployment health knob that applies to a pod (pod -> ReplicaSet -> Deployment). */
  private healthOf(pod: K8sObject): DeploymentHealth {
    const rsName = pod.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'ReplicaSet')?.name
    const rs = rsName ? this.store.get(REPLICASETS, pod.metadata.namespace, rsName) : undefined
    const deploy = rs?.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment')?.name
    const h = deploy ? this.health.get(`${pod.metadata.namespace}/${deploy}`) : undefined
    if (!h || (h.image !== undefined && !(pod.spec?.containers ?? []).some((c: {image?: string}) => c.image === h.image))) return {}
    return h
  }

  private reconcilePodStatus(pod: K8sObject, bumpRestarts = false): void {
    if (pod.metadata.ownerReferences?.some((o) => o.controller && o.kind === 'Job')) return this.completePod(pod)
    const health = this.healthOf(pod)
    const crash = health.crashLoop === true
    const ready = !crash && health.ready !== false
    const prev = pod.status ?? {}
    const now = timestamp()
    const started: string = prev.startTime ?? now
    const node = pod.spec?.nodeName ? this.store.get(res('Node'), undefined, pod.spec.nodeName) : undefined
    const hostIP: string | undefined = node?.status?.addresses?.find((a: {type: string}) => a.type === 'InternalIP')?.address
    const podIP: string = prev.podIP ?? `10.244.${Math.floor(this.podIp / 250)}.${(this.podIp++ % 250) + 1}`
    const containerStatuses = (pod.spec?.containers ?? []).map((c: {name: string; image?: string}) => {
      const p = (prev.containerStatuses ?? []).find((s: {name: string}) => s.name === c.name)
      const restartCount: number = (p?.restartCount ?? 0) + (crash && bumpRestarts ? 1 : 0)
      return {
        name: c.name,
        image: c.image,
        imageID: '',
        containerID: p?.containerID ?? `containerd://${safeHash([pod.metadata.uid, c.name])}`,
        ready,
        started: !crash,
        restartCount,
        state: crash
          ? {waiting: {reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${c.name} pod=${pod.metadata.name}`}}
          : {running: {startedAt: p?.state?.running?.startedAt ?? started}},
        ...(crash &&
          restartCount > 0 && {
            lastState: {terminated: {exitCode: 1, reason: 'Error', startedAt: started, finishedAt: bumpRestarts ? now : (p?.lastState?.terminated?.finishedAt ?? now)}},
          }),
      }
    })
    const prevConds = prev.conditions ?? []
    const flag = (b: boolean): string => (b ? 'True' : 'False')
    this.writeStatus(PODS, pod, {
      phase: 'Running',
      conditions: [
        condition(prevConds, 'PodReadyToStartContainers', 'True', undefined, undefined, now, false),
        condition(prevConds, 'Initialized', 'True', undefined, undefined, now, false),
        condition(
          prevConds,
          'Ready',
          flag(ready),
          ready ? undefined : 'ContainersNotReady',
          ready ? undefined : `containers with unready status: [${containerStatuses.map((c: {name: string}) => c.name).join(' ')}]`,
          now,
          false,
        ),
        condition(prevConds, 'ContainersReady', flag(ready), ready ? undefined : 'ContainersNotReady', undefined, now, false),
        condition(prevConds, 'PodScheduled', 'True', undefined, undefined, now, false),
      ],
      ...(hostIP && {hostIP, hostIPs: [{ip: hostIP}]}),
      podIP,
      podIPs: [{ip: podIP}],
      startTime: started,
      containerStatuses,
      qosClass: 'BestEffort',
    })
  }

  // --- Jobs: every pod runs to completion at once -------------------------------------------

  private reconcileJob(job: K8sObject): void {
    if (job.spec?.suspend) return
    const ns = job.metadata.namespace!
    const pods = this.store.list(PODS, ns).filter((p) => controllerUid(p) === job.metadata.uid)
    const completions: number = job.spec?.completions ?? 1
    const done = job.status?.conditions?.some((c: {type: string; status: string}) => c.type === 'Complete' && c.status === 'True')
    const template = job.spec?.template ?? {}
    for (let i = pods.length; i < completions && !done; i++) {
      this.store.create(PODS, {
        metadata: {name: `${job.metadata.name}-${randomSuffix()}`, namespace: ns, labels: {...template.metadata?.labels}, ownerReferences: [controllerRef(job)]},
        spec: structuredClone(template.spec ?? {}),
      })
    }
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length
    const now = timestamp()
    const prev = job.status?.conditions ?? []
    const complete = succeeded >= completions
    this.writeStatus(res('Job'), job, {
      startTime: job.status?.startTime ?? now,
      ...(complete && {completionTime: job.status?.completionTime ?? now}),
      active: pods.length - succeeded,
      succeeded,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {},
      ...(complete && {
        conditions: ['SuccessCriteriaMet', 'Complete'].map((type) => ({
          ...condition(prev, type, 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now, false),
          lastProbeTime: prev.find((p: {type: string}) => p.type === type)?.lastProbeTime ?? now,
        })),
      }),
    })
  }

  private completePod(pod: K8sObject): void {
    const prev = pod.status ?? {}
    const now = timestamp()
    const started: string = prev.startTime ?? now
    const prevConds = prev.conditions ?? []
    this.writeStatus(PODS, pod, {
      phase: 'Succeeded',
      conditions: [
        condition(prevConds, 'Initialized', 'True', 'PodCompleted', undefined, now, false),
        condition(prevConds, 'Ready', 'False', 'PodCompleted', undefined, now, false),
        condition(prevConds, 'ContainersReady', 'False', 'PodCompleted', undefined, now, false),
        condition(prevConds, 'PodScheduled', 'True', undefined, undefined, now, false),
      ],
      startTime: started,
      containerStatuses: (pod.spec?.containers ?? []).map((c: {name: string; image?: string}) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: {terminated: {exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: prev.containerStatuses?.[0]?.state?.terminated?.finishedAt ?? now}},
      })),
      qosClass: 'BestEffort',
    })
  }

  // --- HPA and Services ---------------------------------------------------------------------

  /** Reports the target's replicas clamped to [minReplicas, maxReplicas]; it does not scale the target. */
  private reconcileHpa(hpa: K8sObject): void {
    const ref = hpa.spec?.scaleTargetRef ?? {}
    const r = resourceForKind(ref.apiVersion ?? '', ref.kind ?? '')
    const target = r && this.store.get(r, hpa.metadata.namespace, ref.name ?? '')
    const now = timestamp()
    const prev = hpa.status?.conditions ?? []
    if (!target) {
      this.writeStatus(res('HorizontalPodAutoscaler'), hpa, {
        observedGeneration: hpa.metadata.generation,
        currentReplicas: 0,
        desiredReplicas: 0,
        conditions: [
          condition(
            prev,
            'AbleToScale',
            'False',
            'FailedGetScale',
            `the HPA controller was unable to get the target's current scale: ${ref.kind} "${ref.name}" not found`,
            now,
            false,
          ),
        ],
      })
      return
    }
    const current: number = target.status?.replicas ?? target.spec?.replicas ?? 0
    const min: number = hpa.spec.minReplicas ?? 1
    const desired = Math.min(Math.max(target.spec?.replicas ?? 0, min), hpa.spec.maxReplicas ?? Number.MAX_SAFE_INTEGER)
    const limited = desired !== (target.spec?.replicas ?? 0)
    this.writeStatus(res('HorizontalPodAutoscaler'), hpa, {
      observedGeneration: hpa.metadata.generation,
      currentReplicas: current,
      desiredReplicas: desired,
      currentMetrics: [],
      conditions: [
        condition(prev, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size', now, false),
        condition(prev, 'ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count', now, false),
        limited
          ? condition(
              prev,
              'ScalingLimited',
              'True',
              desired > current ? 'TooFewReplicas' : 'TooManyReplicas',
              'the desired replica count is outside the allowed range',
              now,
              false,
            )
          : condition(prev, 'ScalingLimited', 'False', 'DesiredWithinRange', 'the desired count is within the acceptable range', now, false),
      ],
    })
  }

  /** LoadBalancer Services get an ingress IP (kstatus waits for one). */
  private reconcileService(svc: K8sObject): void {
    if (svc.spec?.type !== 'LoadBalancer' || svc.status?.loadBalancer?.ingress?.length) return
    this.writeStatus(res('Service'), svc, {loadBalancer: {ingress: [{ip: `172.18.255.${this.lbIp++ % 250}`, ipMode: 'VIP'}]}})
  }

  /**
   * A ResourceQuota's status: `hard` from the spec, `used` counted for object counts (`pods`,
   * `services`, `count/deployments.apps`, ...). Compute resources (cpu, memory) report "0": the
   * sandbox runs no containers. Nothing is enforced.
   */
  private reconcileQuota(q: K8sObject): void {
    const hard: Record<string, string> = q.spec?.hard ?? {}
    const used: Record<string, string> = {}
    for (const key of Object.keys(hard)) {
      const counted = /^count\/(.+)$/.exec(key)?.[1] ?? key
      const [plural, ...group] = counted.split('.')
      const r = RESOURCES.find((x) => x.namespaced && x.plural === plural && x.group === group.join('.'))
      let n = 0
      if (r) n = this.store.list(r, q.metadata.namespace).filter((o) => r.kind !== 'Pod' || !['Succeeded', 'Failed'].includes(o.status?.phase)).length
      used[key] = String(n)
    }
    this.writeStatus(res('ResourceQuota'), q, {hard: {...hard}, used})
  }

  // --- plumbing ------------------------------------------------------------------------------

  private writeStatus(r: ResourceType, obj: K8sObject, status: object): void {
    if (deepEqual(obj.status, status)) return
    const latest = this.store.get(r, obj.metadata.namespace, obj.metadata.name!)
    if (!latest) return
    this.store.update(r, {...latest, status}, {subresource: 'status'})
  }

  /** A 1 s ticker runs only while some Deployment is made unhealthy: crash loops restart, deadlines pass. */
  private updateTicker(): void {
    if (this.health.size > 0 && !this.ticker && !this.closed) {
      this.ticker = setInterval(() => this.tick(), TICK_MS)
      this.ticker.unref()
    } else if (this.health.size === 0 && this.ticker) {
      clearInterval(this.ticker)
      this.ticker = undefined
    }
  }

  private tick(): void {
    this.ticks++
    const bump = this.ticks % 2 === 0 // a restart every two seconds
    for (const pod of this.store.list(PODS)) if (this.healthOf(pod).crashLoop) this.reconcilePodStatus(pod, bump)
    this.reconcileAll()
  }
}

function controllerUid(o: K8sObject): string | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller)?.uid
}

function controllerRef(owner: K8sObject): OwnerReference {
  return {apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true}
}

function revisionOf(rs: K8sObject): number {
  return Number(rs.metadata.annotations?.[REVISION] ?? 0)
}

function isPodReady(p: K8sObject): boolean {
  return p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: {type: string; status: string}) => c.type === 'Ready' && c.status === 'True')
}

function resolveIntOrPercent(v: number | string, total: number): number {
  if (typeof v === 'number') return v
  const m = /^(\d+)%$/.exec(v)
  return m ? Math.floor((total * Number(m[1])) / 100) : Number(v) || 0
}

/**
 * A condition that keeps its timestamps while nothing about it changes, so that repeated
 * passes compute an identical status and write nothing.
 */
function condition(
  prev: Array<Record<string, string>>,
  type: string,
  status: string,
  reason: string | undefined,
  message: string | undefined,
  now: string,
  withUpdateTime = true,
): Record<string, string> {
  const p = prev.find((c) => c.type === type)
  const same = p?.status === status
  const unchanged = same && p?.reason === reason && p?.message === message
  const out: Record<string, string> = {type, status}
  if (withUpdateTime) out.lastUpdateTime = unchanged ? (p!.lastUpdateTime ?? now) : now
  out.lastTransitionTime = same ? (p!.lastTransitionTime ?? now) : now
  if (reason) out.reason = reason
  if (message) out.message = message
  return out
}
