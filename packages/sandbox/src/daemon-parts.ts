/**
 * What the daemon loads while moto and PostgreSQL start (daemon.ts): one module, so that the
 * bundle has one chunk for it rather than one small file per part (each a file more to install).
 */
export {startAwsFront} from './aws-front/front.js'
export {startK8sStandIn} from './kube-stand-in/server.js'
export {writeSandboxFiles} from './files.js'
export {startRouter} from './router.js'
export {sandboxQueries, startPrometheusStandIn} from './prometheus.js'
export {kubernetesHealthy, PLATFORM_SERVICES, SANDBOX, resetTrafficRecords, seedAws, seedKubernetes, seedPlatform} from './seed.js'
export {DEFAULT_KNOBS, startStack} from './stacks.js'
export {atomicWriteFile} from './atomic-write.js'
export {NOTIFY_ENV, sinkFaultRule, startWebhookSink} from './webhook-sink.js'
