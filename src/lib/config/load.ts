/**
 * Finding and loading clipper-ops.yaml: --config, then CLIPPER_OPS_CONFIG, then the current
 * directory and its parents.
 */
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {isDeepStrictEqual} from 'node:util'
import {UsageError} from '../errors.js'
import {closest} from '../util/closest.js'
import {readTextFile} from '../util/text-file.js'
import type {Config, Environment} from './schema.js'

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

export async function loadConfig(file: string): Promise<LoadedConfig> {
  const source = readTextFile(file, 'Config file')
  const cached = validatedCache(source)
  const hit = cached.read()
  if (hit) return {file, config: withResolvedPaths(hit, dirname(file))}
  // Building the zod schema costs ~30 ms and the YAML parser is 120 KB: only a config not seen
  // before pays for them.
  const {validateConfig} = await import('./validate.js')
  const data = validateConfig(file, source)
  cached.write(data)
  return {file, config: withResolvedPaths(data, dirname(file))}
}

/**
 * A config that passed validation is kept as JSON in the user's cache dir, named by the sha256
 * of its text and of this build; the next command with the same file reads that back instead of
 * parsing YAML and running the schema (~60 ms of `runs list` or `dns status`, npm run bench).
 * Only the bundle caches: its chunk names carry a hash of their code, so a build with another
 * schema never reads this one's entries. Best effort: an unreadable or unwritable cache is no
 * cache. CLIPPER_OPS_NO_CACHE=1 turns it off.
 */
const BUILD = /\/dist\/.+\.js$/.test(import.meta.url) ? import.meta.url : undefined
const CACHE_ENTRIES = 32

function validatedCache(source: string): {read(): Config | undefined; write(config: Config): void} {
  const off = {read: () => undefined, write: () => {}}
  if (!BUILD || process.env.CLIPPER_OPS_NO_CACHE === '1') return off
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'clipper-ops', 'config')
  const entry = join(dir, `${createHash('sha256').update(BUILD).update('\0').update(source).digest('hex').slice(0, 40)}.json`)
  return {
    read() {
      try {
        return JSON.parse(readFileSync(entry, 'utf8')) as Config
      } catch {
        return undefined
      }
    },
    write(config) {
      const json = JSON.stringify(config)
      // Only what JSON gives back unchanged (no undefined values, no class instances).
      if (!isDeepStrictEqual(JSON.parse(json), config)) return
      try {
        mkdirSync(dir, {recursive: true, mode: 0o700})
        const tmp = `${entry}.${process.pid}.tmp`
        writeFileSync(tmp, json, {mode: 0o600})
        renameSync(tmp, entry)
        const entries = readdirSync(dir).filter((f) => f.endsWith('.json'))
        if (entries.length > CACHE_ENTRIES) {
          const byAge = entries.map((f) => ({f, t: statSync(join(dir, f)).mtimeMs})).sort((a, b) => a.t - b.t)
          for (const {f} of byAge.slice(0, entries.length - CACHE_ENTRIES)) rmSync(join(dir, f), {force: true})
        }
      } catch {
        // a read-only home, a full disk: the next run validates again
      }
    },
  }
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
export async function requireConfig(opts: {flag?: string; cwd?: string; stateRoot?: string; env?: string} = {}): Promise<LoadedConfig> {
  let file = findConfigFile({flag: opts.flag, cwd: opts.cwd})
  const explicit = Boolean(opts.flag || process.env.CLIPPER_OPS_CONFIG)
  const fallback = opts.stateRoot && existsSync(fallbackConfigFile(opts.stateRoot)) ? fallbackConfigFile(opts.stateRoot) : undefined
  if (!file && fallback) file = fallback
  else if (file && !explicit && fallback && opts.env && file !== fallback) {
    const found = await loadConfig(file)
    if (Object.hasOwn(found.config.environments, opts.env)) return found
    const other = await loadConfig(fallback)
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

export interface TargetFlags {
  env?: string
  config?: string
  /** The state dir: its fallback config (the sandbox's) is found there. */
  stateRoot: string
}

/**
 * The environment a command acts on: --env (or the config's defaultEnvironment), from the config
 * that applies. It lives here, not beside the runbook code, so that a command that only reads
 * (dns status) loads neither the runbook code nor, on a cache hit, the config schema.
 */
export async function loadEnvironment(f: TargetFlags): Promise<{name: string; environment: Environment; file: string}> {
  const loaded = await requireConfig({flag: f.config, env: f.env, stateRoot: f.stateRoot})
  return {...selectEnvironment(loaded, f.env), file: loaded.file}
}
