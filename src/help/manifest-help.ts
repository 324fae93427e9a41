/**
 * `--help`, `-h`, `help [COMMAND]`, a bare topic (`clipper-ops runs`) and no arguments at all are
 * answered from oclif.manifest.json without starting oclif: no Config, no plugin or command
 * discovery, no hooks. What renders is oclif's own Help class, handed a stand-in for its Config
 * built from package.json and the manifest, so the text is oclif's by construction
 * (test/cli/help.test.ts compares both for every command and topic). Anything this does not
 * answer exactly — a command or topic it does not know, flags of the help command, a help theme,
 * a command whose help is dynamic — falls through to oclif (`false`).
 */
import {existsSync, readFileSync} from 'node:fs'
import {homedir, release} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import type {Command, Config, Interfaces} from '@oclif/core'
import ansis from 'ansis'

type Cached = Command.Cached
interface Topic {
  name: string
  description?: string
  hidden?: boolean
}

export async function manifestHelp(root: string, argv: string[]): Promise<boolean> {
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Interfaces.PJSON & {name: string; version: string; description?: string}
  const o = pjson.oclif as Interfaces.PJSON['oclif'] & {additionalHelpFlags?: string[]; topicSeparator?: string; flexibleTaxonomy?: boolean; theme?: unknown; helpClass?: unknown}
  let manifestText: string
  let manifest: {version: string; commands: Record<string, Cached>}
  try {
    manifestText = readFileSync(join(root, 'oclif.manifest.json'), 'utf8')
    manifest = JSON.parse(manifestText)
  } catch {
    return false
  }
  // oclif would not trust this manifest, or would render with something we do not reproduce.
  if (manifest.version !== pjson.version || o.flexibleTaxonomy || o.theme || o.helpClass || hasUserTheme(pjson.name)) return false

  const commands = Object.values(manifest.commands)
  const byId = new Map<string, Cached>()
  for (const c of commands) for (const id of [c.id, ...(c.aliases ?? [])]) byId.set(id, c)
  // Topics as oclif's Config makes them: the declared ones, then one for every prefix of a visible command's id.
  const topics = new Map<string, Topic>(Object.entries(o.topics ?? {}).map(([name, t]) => [name, {name, description: t.description, hidden: t.hidden}]))
  for (const c of commands.filter((x) => !x.hidden)) {
    const parts = c.id.split(':')
    for (; parts.length > 0; parts.pop()) if (!topics.has(parts.join(':'))) topics.set(parts.join(':'), {name: parts.join(':'), description: c.summary || c.description})
  }

  // Could it be help? Cheap checks first: most runs are not, and should not pay for oclif's help.
  const helpFlags = [...new Set([...(o.additionalHelpFlags ?? []), '--help'])]
  const beforeDashes = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv
  const helpFlag = argv.length === 0 || beforeDashes.some((a) => helpFlags.includes(a))
  // A bare topic shows its help; words that name a command (`dns status --env x`) run it, and
  // should not pay for loading oclif's help to find that out.
  const lead = argv.slice(0, (argv.findIndex((a) => a.startsWith('-')) + 1 || argv.length + 1) - 1)
  const namesCommand = lead.some((_, i) => byId.has(lead.slice(0, i + 1).join(':')))
  const topicOnly = !namesCommand && argv.some((_, i) => topics.has(argv.slice(0, i + 1).join(':')) && !byId.has(argv.slice(0, i + 1).join(':')))
  if (argv[0] === '--version' || !(helpFlag || argv[0] === 'help' || topicOnly)) return false
  if (commands.some((c) => c.hasDynamicHelp)) return false

  const text = prerendered(root, pjson, manifestText, argv)
  if (text !== undefined) {
    process.stdout.write(text)
    return true
  }

  const {Help, normalizeArgv} = cjs(await import('@oclif/core/lib/help/index.js'))
  const {getPlatform, getShell} = cjs(await import('@oclif/core/lib/util/os.js'))
  const platform = await getPlatform()
  const config = {
    name: pjson.name,
    version: pjson.version,
    pjson,
    root,
    bin: o.bin ?? pjson.name,
    platform,
    arch: ARCH,
    shell: await getShell(),
    userAgent: userAgentOn(pjson, platform),
    topicSeparator: o.topicSeparator ?? ':',
    commands,
    commandIDs: commands.map((c) => c.id),
    topics: [...topics.values()],
    findCommand: (id: string) => byId.get(id),
    findTopic: (name: string) => topics.get(name),
    plugins: new Map([[pjson.name, {pjson}]]),
    isSingleCommandCLI: false,
    flexibleTaxonomy: false,
    theme: undefined,
  } as unknown as Config

  // What oclif's main does: a help flag shows help for the whole argv; otherwise the id decides —
  // the help command (without flags of its own) shows help for what follows, a topic its own.
  let help = new Help(config, (o as {helpOptions?: object}).helpOptions ?? {})
  let subject = argv
  if (!helpFlag) {
    const [id, ...rest] = normalizeArgv(config, [...argv])
    if (id === 'help' && !rest.some((a) => a.startsWith('-'))) [help, subject] = [new Help(config, {all: false}), rest]
    else if (id && !byId.has(id) && topics.has(id)) subject = [id]
    else return false
  }
  try {
    await help.showHelp(subject)
  } catch {
    return false // "Command … not found.", before anything is printed: oclif says it its own way
  }
  return true
}

/**
 * The build renders the help of the root, every command and every topic, asked the usual ways, as
 * oclif would print it to a pipe — 80 columns, no colour — into dist/help.json.gz
 * (scripts/prerender-help.mjs, which calls manifestHelp itself). Where this run would render the
 * same text, it is printed as it is, without loading oclif's help classes: that import is most of
 * what --help costs beyond starting Node. A help.json.gz built from another manifest is ignored.
 * (Gzipped, 86 KB of text is 17 KB in the package; gunzip costs well under a millisecond.)
 */
function prerendered(root: string, pjson: {name: string; version: string}, manifestText: string, argv: string[]): string | undefined {
  const columns = Number.parseInt(process.env.OCLIF_COLUMNS ?? '', 10) || (process.stdout.isTTY ? Math.max(process.stdout.columns || 80, 40) : 80)
  // oclif writes Windows line continuations in examples; colour is what ansis (oclif's) detects.
  if (columns !== 80 || process.platform === 'win32' || ansis.isSupported()) return undefined
  let cache: {manifest: string; texts: string[]; byArgv: Record<string, number>}
  try {
    cache = JSON.parse(gunzipSync(readFileSync(join(root, 'dist', 'help.json.gz'))).toString('utf8'))
  } catch {
    return undefined
  }
  if (cache.manifest !== manifestDigest(manifestText)) return undefined
  const text = cache.texts[cache.byArgv[JSON.stringify(argv)] ?? -1]
  if (text === undefined || !text.includes(USER_AGENT)) return text
  // The root's VERSION names this platform and Node: the build left a place for it.
  const ua = userAgent(pjson)
  return ua === undefined ? undefined : text.replaceAll(USER_AGENT, ua)
}

/** Where the root help's VERSION line goes in dist/help.json.gz. */
export const USER_AGENT = '\u0000user-agent\u0000'

/**
 * oclif's `config.userAgent`, or undefined where oclif might call the platform "wsl" (it asks
 * the wsl-utils package, which this does not load): there the help is rendered.
 */
export function userAgent(pjson: {name: string; version: string}): string | undefined {
  if (process.platform === 'linux') {
    let version = release()
    try {
      version += readFileSync('/proc/version', 'utf8')
    } catch {
      // no /proc: the release says it
    }
    if (version.toLowerCase().includes('microsoft')) return undefined
  }
  return userAgentOn(pjson, process.platform)
}

/** oclif's names: ia32 is "x86". */
const ARCH = process.arch === 'ia32' ? 'x86' : process.arch
const userAgentOn = (pjson: {name: string; version: string}, platform: string) => `${pjson.name}/${pjson.version} ${platform}-${ARCH} node-${process.version}`

/** A cheap fingerprint (FNV-1a and the length): enough to see that help.json.gz and the manifest differ. */
export function manifestDigest(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return `${text.length}:${(h >>> 0).toString(16)}`
}

/** oclif's files are CommonJS: bundled and imported late, their exports come as `default`. */
function cjs<T extends object>(m: T): T {
  return 'default' in m ? (m.default as T) : m
}

/** A theme.json in oclif's config dir changes the colours of help: leave that to oclif. */
function hasUserTheme(name: string): boolean {
  const scoped = `${name.toUpperCase().replaceAll('-', '_')}_CONFIG_DIR`
  const dir = process.env[scoped] ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), name)
  return existsSync(join(dir, 'theme.json'))
}
