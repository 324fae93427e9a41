/**
 * Which state store holds an environment's runs: S3 when its config says `state: s3://…` (set on
 * the environment, or once for the whole config), files under the state dir otherwise.
 */
import {requireConfig} from '../config/load.js'
import type {Environment} from '../config/schema.js'
import type {StateDir} from './state.js'
import {LocalRunStore, type RunStore} from './store.js'
import {S3RunStore} from '../aws/s3-run-store.js'

export async function storeForEnvironment(environment: Environment | undefined, stateDir: StateDir): Promise<RunStore> {
  if (!environment?.state) return new LocalRunStore(stateDir)
  return new S3RunStore(environment.state, environment, stateDir)
}

/**
 * For commands that read runs (runs list, show, resume; audit): the store of --env, else the one
 * the config names for the whole team (its `state`, or its default environment's). Without a
 * config, the local files.
 */
export async function storeFor(opts: {env?: string; config?: string; stateDir: StateDir}): Promise<RunStore> {
  let config
  try {
    config = (await requireConfig({flag: opts.config, env: opts.env, stateRoot: opts.stateDir.root})).config
  } catch (error) {
    if (opts.config) throw error
    return new LocalRunStore(opts.stateDir)
  }
  const envs = config.environments
  if (opts.env) return storeForEnvironment(Object.hasOwn(envs, opts.env) ? envs[opts.env] : undefined, opts.stateDir)
  const preferred = config.defaultEnvironment && Object.hasOwn(envs, config.defaultEnvironment) ? envs[config.defaultEnvironment] : undefined
  const url = config.state ?? preferred?.state
  if (!url) return new LocalRunStore(opts.stateDir)
  // The S3 client of an environment that keeps its runs there (its region, endpoint, profile).
  const withAws = [preferred, ...Object.values(envs)].find((e) => e?.state === url && e.aws)
  return storeForEnvironment(withAws ?? {...(preferred ?? Object.values(envs)[0]!), state: url}, opts.stateDir)
}
