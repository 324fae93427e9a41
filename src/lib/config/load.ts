/**
 * Finding and loading clipper-ops.yaml: --config, then CLIPPER_OPS_CONFIG, then the current
 * directory and its parents.
 */
import {existsSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {InvalidFileError, UsageError} from '../errors.js'
import {closest, loadYamlFile} from '../util/yaml-file.js'
import {configSchema, type Config, type Environment} from './schema.js'

export const CONFIG_NAMES = ['clipper-ops.yaml', 'clipper-ops.yml']

/**
 * The fallback config: where a tool that stands up an environment of its own (the sandbox
 * plugin) writes that environment's config, inside the state dir. `--env <name>` uses it when
 * no clipper-ops.yaml is found, or when the one found has no environment of that name. This is
 * the CLI's contract with such plugins: they write here, the CLI never imports them.
 */
export function fallbackConfigFile(stateRoot: string): string {
  return join(stateRoot, 'fallback', 'clipper-ops.yaml')
}

export interface LoadedConfig {
  file: string
  config: Config
}

export function findConfigFile(opts: {flag?: string; cwd?: string; env?: NodeJS.ProcessEnv} = {}): string | undefined {
  const env = opts.env ?? process.env
  if (opts.flag) return resolve(opts.flag)
  if (env.CLIPPER_OPS_CONFIG) return resolve(env.CLIPPER_OPS_CONFIG)
  let dir = resolve(opts.cwd ?? process.cwd())
  for (;;) {
    for (const name of CONFIG_NAMES) {
      const candidate = join(dir, name)
      if (existsSync(candidate)) return candidate
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

export function loadConfig(file: string): LoadedConfig {
  const {data, locate} = loadYamlFile(file, configSchema, 'Config file')
  if (data.defaultEnvironment && !(data.defaultEnvironment in data.environments)) {
    const names = Object.keys(data.environments)
    const hint = closest(data.defaultEnvironment, names)
    throw new InvalidFileError(`Config file ${file}`, [
      {
        file,
        path: 'defaultEnvironment',
        ...locate(['defaultEnvironment']),
        message: `names "${data.defaultEnvironment}", which is not an environment here${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${names.join(', ')}`,
      },
    ])
  }
  return {file, config: withResolvedPaths(data, dirname(file))}
}

/**
 * Paths in the terraform and helm parts are relative to the config file, as in a compose file:
 * the same config works from any directory. A chart that is not a directory there is a chart
 * reference (repo/chart, oci://…) and stays as it is.
 */
function withResolvedPaths(config: Config, base: string): Config {
  for (const env of Object.values(config.environments)) {
    // The whole config's team state applies to every environment that names none of its own.
    if (config.state && !env.state) env.state = config.state
    if (env.terraform) {
      env.terraform.dir = resolve(base, env.terraform.dir)
      env.terraform.varFiles = env.terraform.varFiles.map((f) => resolve(base, f))
    }
    for (const r of env.helm?.releases ?? []) {
      if (existsSync(resolve(base, r.chart))) r.chart = resolve(base, r.chart)
      r.values = r.values.map((f) => resolve(base, f))
    }
  }
  return config
}

/**
 * Load the config that applies (flag, env var, search) or explain how to get one. The fallback
 * config of `stateRoot` (see fallbackConfigFile) is used when no config is found, or when the
 * one found by searching has no environment of the name asked for and the fallback has (so that
 * `--env sandbox` works anywhere).
 */
export function requireConfig(opts: {flag?: string; cwd?: string; stateRoot?: string; env?: string} = {}): LoadedConfig {
  let file = findConfigFile({flag: opts.flag, cwd: opts.cwd})
  const explicit = Boolean(opts.flag || process.env.CLIPPER_OPS_CONFIG)
  const fallback = opts.stateRoot && existsSync(fallbackConfigFile(opts.stateRoot)) ? fallbackConfigFile(opts.stateRoot) : undefined
  if (!file && fallback) file = fallback
  else if (file && !explicit && fallback && opts.env && file !== fallback) {
    const found = loadConfig(file)
    if (Object.hasOwn(found.config.environments, opts.env)) return found
    const other = loadConfig(fallback)
    return Object.hasOwn(other.config.environments, opts.env) ? other : found
  }
  if (!file) {
    throw new UsageError(
      'No clipper-ops.yaml found in this directory or its parents. Pass --config <file>, set CLIPPER_OPS_CONFIG, or start from examples/clipper-ops.example.yaml (or run "clipper-ops sandbox up", which writes one).',
      {code: 'NO_CONFIG'},
    )
  }
  return loadConfig(file)
}

export function selectEnvironment(loaded: LoadedConfig, name: string | undefined): {name: string; environment: Environment} {
  const names = Object.keys(loaded.config.environments)
  const chosen = name ?? loaded.config.defaultEnvironment
  if (!chosen) {
    throw new UsageError(`Pass --env <name> (or set defaultEnvironment in ${loaded.file}); it defines: ${names.join(', ') || '(no environments)'}.`, {code: 'NO_ENV'})
  }
  // Own names only: "toString" or "__proto__" is not an environment of every config.
  const environment = Object.hasOwn(loaded.config.environments, chosen) ? loaded.config.environments[chosen] : undefined
  if (!environment) {
    const hint = closest(chosen, names)
    throw new UsageError(`--env ${chosen}: no such environment in ${loaded.file}${hint ? ` (did you mean "${hint}"?)` : ''}; valid: ${names.join(', ') || '(none)'}.`, {
      code: 'UNKNOWN_ENV',
    })
  }
  return {name: chosen, environment}
}
