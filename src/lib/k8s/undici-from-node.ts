/**
 * What @kubernetes/client-node takes from `undici`, served in the bundle by the undici inside Node
 * (behind its global fetch) instead of a second copy of it (757 KB; scripts/bundle.mjs swaps it in
 * for client-node only): `fetch` itself, and the class of Node's global dispatcher — an undici
 * Agent, or with NODE_USE_ENV_PROXY=1 an EnvHttpProxyAgent — which takes a kubeconfig's TLS
 * options (`connect: {ca, cert, key, rejectUnauthorized}`) as undici's own Agent does.
 */

type Dispatcher = object
type DispatcherClass = new (options: object) => Dispatcher

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1')

function nodeDispatcherClass(): DispatcherClass {
  // Touching one of the fetch globals loads Node's undici, which sets its global dispatcher.
  void globalThis.Headers
  const dispatcher = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as Dispatcher | undefined
  if (!dispatcher) throw new Error('this Node.js does not expose the dispatcher of its fetch; clipper-ops needs Node.js 22.22.2+ or 24.15+')
  return dispatcher.constructor as DispatcherClass
}

export const fetch: typeof globalThis.fetch = (input, init) => globalThis.fetch(input, init)

// client-node calls `new Agent(...)`: a class whose constructor returns Node's dispatcher.
// eslint-disable-next-line @typescript-eslint/no-extraneous-class
export class Agent {
  constructor(options: object) {
    const NodeAgent = nodeDispatcherClass()
    return new NodeAgent(options)
  }
}

// eslint-disable-next-line @typescript-eslint/no-extraneous-class
export class ProxyAgent {
  constructor(options: {uri?: string}) {
    throw new Error(
      `the kubeconfig names a proxy for the cluster (proxy-url ${options.uri ?? ''}), which this build of clipper-ops does not take from the kubeconfig. Set HTTPS_PROXY (and NO_PROXY) in the environment with NODE_USE_ENV_PROXY=1 instead (Node.js 24), and remove proxy-url from the kubeconfig.`,
    )
  }
}
