/**
 * What a command runs: a runbook (a file, or a built-in by name), the environment it acts on and
 * its parameters, bound from flags and the environment's config.
 */
import {existsSync} from 'node:fs'
import {fallbackConfigFile, findConfigFile, loadConfig, loadEnvironment, selectEnvironment, type TargetFlags} from '../config/load.js'
import {UsageError} from '../errors.js'
import {bindParameters, loadRunbook} from '../runbook/load.js'
import type {RunInput} from './draft.js'
import {checkEnvironment} from './check-config.js'

/** Load a runbook and the environment it runs against, and bind its parameters. */
export async function resolveTarget(ref: string, given: Record<string, unknown>, f: TargetFlags): Promise<RunInput> {
  const loaded = await loadRunbook(ref)
  const rb = loaded.runbook
  let env: RunInput['env']
  if (rb.environment === 'none') {
    if (f.env) throw new UsageError(`--env ${f.env}: runbook "${rb.name}" does not act on an environment; drop --env.`, {code: 'NO_ENV_NEEDED'})
  } else if (f.env || rb.environment === 'required' || f.config) {
    const loadedEnv = await loadEnvironment(f)
    await checkEnvironment(loadedEnv.file, loadedEnv.name, loadedEnv.environment)
    env = {name: loadedEnv.name, environment: loadedEnv.environment}
  } else {
    const fallback = fallbackConfigFile(f.stateRoot)
    const file = findConfigFile({flag: f.config}) ?? (existsSync(fallback) ? fallback : undefined)
    if (file) {
      const cfg = await loadConfig(file)
      if (cfg.config.defaultEnvironment) env = selectEnvironment(cfg, undefined)
    }
  }
  return {loaded, env, params: bindParameters(rb, given, '--param', env)}
}
