/**
 * Watches: a long-lived chunked response with one JSON event per line
 * (`{"type":"ADDED","object":{...}}`), fed from the store's event log and live events.
 *
 * Three starting points, as in the real API:
 * - `sendInitialEvents=true` (watch-list, what helm v4's kstatus waiter and client-go
 *   reflectors use): ADDED for every current object, then a BOOKMARK whose object carries
 *   the annotation `k8s.io/initial-events-end: "true"`, then live events. The annotation is
 *   how the client knows its initial list is complete; without it the waiter never starts
 *   judging readiness and `helm --wait` hangs until its timeout.
 * - no resourceVersion or "0": ADDED for current objects, then live events.
 * - resourceVersion N (after a list, e.g. `kubectl rollout status`): replay the log after N,
 *   then live events; 410 Expired (as an ERROR event) if the log no longer reaches N.
 */
import type {ServerResponse} from 'node:http'
import {apiVersionOf, type ResourceType} from './resources.js'
import type {Predicate} from './selectors.js'
import type {K8sObject, ObjectStore, StoreEvent} from './store.js'

export interface WatchSpec {
  resource: ResourceType
  namespace?: string
  filter: Predicate
  query: URLSearchParams
  /** Applied to each event's object (kubectl get --watch wants Table rows). */
  transform?: (o: K8sObject) => unknown
}

export function serveWatch(store: ObjectStore, res: ServerResponse, spec: WatchSpec, open: Set<ServerResponse>): void {
  const {resource: r, namespace, filter, query} = spec
  const transform = spec.transform ?? ((o: K8sObject) => o)
  res.writeHead(200, {'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private'})
  res.flushHeaders()
  const send = (type: string, object: unknown): void => {
    if (!res.writableEnded) res.write(JSON.stringify({type, object: type === 'BOOKMARK' || type === 'ERROR' ? object : transform(object as K8sObject)}) + '\n')
  }
  const matches = (e: StoreEvent): boolean => e.resource === r && (namespace === undefined || e.object.metadata.namespace === namespace) && filter(e.object)

  const rv = query.get('resourceVersion') ?? ''
  const sendInitial = query.get('sendInitialEvents')
  if (sendInitial === 'true' || ((rv === '' || rv === '0') && sendInitial !== 'false')) {
    for (const o of store.list(r, namespace)) if (filter(o)) send('ADDED', o)
    if (sendInitial === 'true') {
      const bookmark: K8sObject = {
        apiVersion: apiVersionOf(r),
        kind: r.kind,
        metadata: {resourceVersion: store.resourceVersion, annotations: {'k8s.io/initial-events-end': 'true'}},
      }
      send('BOOKMARK', bookmark)
    }
  } else if (rv !== '' && rv !== '0') {
    const backlog = store.eventsAfter(Number(rv))
    if (!backlog) {
      send('ERROR', {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rv}`, reason: 'Expired', code: 410})
      res.end()
      return
    }
    for (const e of backlog) if (matches(e)) send(e.type, e.object)
  }

  // Subscribing in the same tick as the snapshot above means no event falls in between.
  const unsubscribe = store.subscribe((e) => {
    if (matches(e)) send(e.type, e.object)
  })
  const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0)
  const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined
  open.add(res)
  const cleanup = (): void => {
    unsubscribe()
    if (timer) clearTimeout(timer)
    open.delete(res)
  }
  // 'close' on the response fires both when we end it and when the client goes away.
  // (Not req 'close': that fires as soon as the request body has been read.)
  res.on('close', cleanup)
}
