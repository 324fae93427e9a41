/**
 * Which lock backend guards an environment: a TXT record beside the public name in Route 53
 * (across machines: two on-call engineers on two laptops) for environments that touch the
 * cloud's DNS, unless their config says dns.lock: local; an object beside the runs for team state
 * (state: s3://…); a file under the state dir otherwise.
 */
import {requireConfig} from '../config/load.js'
import type {Environment} from '../config/schema.js'
import {FileLockBackend, type LockBackend} from './lock.js'
import type {StateDir} from './state.js'
import {Route53LockBackend} from '../aws/route53-lock.js'
import {S3LockBackend} from '../aws/s3-lock.js'

export async function lockBackendForEnvironment(environment: Environment | undefined, stateDir: StateDir): Promise<LockBackend> {
  if (environment?.dns && environment.aws && environment.dns.lock === 'route53') {
    return new Route53LockBackend(environment)
  }
  // Team state without a Route 53 lock: the lock lives beside the runs, in S3.
  if (environment?.state && environment.aws) {
    return new S3LockBackend(environment.state, environment)
  }
  return new FileLockBackend(stateDir.locksDir())
}

/** For `runs unlock <env>`: the backend of that environment as the config describes it. */
export async function lockBackendFor(scope: string, opts: {config?: string; stateDir: StateDir}): Promise<LockBackend> {
  let environment: Environment | undefined
  try {
    environment = (await requireConfig({flag: opts.config, env: scope, stateRoot: opts.stateDir.root})).config.environments[scope]
  } catch {
    environment = undefined // no config: a scope without one locks with a file
  }
  return lockBackendForEnvironment(environment, opts.stateDir)
}
