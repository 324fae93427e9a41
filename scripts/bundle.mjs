#!/usr/bin/env node
// The published CLI is one esbuild bundle in dist/: an entry per command (the CLI's, the sandbox
// plugin's and the help/autocomplete commands of oclif's plugins), per hook and per script the
// sandbox spawns; ESM with code splitting, so that a command loads only its own chunks and the
// heavy clients (AWS SDK, @kubernetes/client-node) stay behind their `await import()`. oclif finds
// the commands by its `pattern` strategy in dist/commands, and `oclif manifest` reads them from
// there (before scripts/pack-dist.mjs, the build's last step, puts all of dist/'s modules into
// one file, dist/modules.pack, which bin/modules-pack.js serves). Also writes dist/meta.json
// (esbuild's metafile: `node scripts/bundle-report.mjs` says what is in the bundle) and
// THIRD-PARTY-LICENSES.md. `tsc` only type-checks; vitest runs the sources.
import {build} from 'esbuild'
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const SANDBOX = join(ROOT, 'packages', 'sandbox')
const OUT = join(ROOT, 'dist')

const tsFiles = (dir) => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
const commands = (srcDir) => tsFiles(srcDir).map((f) => ({in: f, out: join('commands', relative(srcDir, f)).replace(/\.ts$/, '')}))
// oclif's plugins export only an index: their command files are taken by path.
const pluginFile = (pkg, file) => join(ROOT, 'node_modules', pkg, 'lib', file)

const entryPoints = [
  ...commands(join(ROOT, 'src', 'commands')),
  ...commands(join(SANDBOX, 'src', 'commands')),
  {in: join(ROOT, 'src', 'hooks', 'command-not-found.ts'), out: 'hooks/command-not-found'},
  {in: pluginFile('@oclif/plugin-help', 'commands/help.js'), out: 'commands/help'},
  {in: pluginFile('@oclif/plugin-autocomplete', 'commands/autocomplete/create.js'), out: 'commands/autocomplete/create'},
  {in: pluginFile('@oclif/plugin-autocomplete', 'commands/autocomplete/script.js'), out: 'commands/autocomplete/script'},
  // Not a command: our `autocomplete` overrides it, and hands it bash, zsh and PowerShell.
  {in: pluginFile('@oclif/plugin-autocomplete', 'commands/autocomplete/index.js'), out: 'plugin-autocomplete'},
  // What bin/run.js tries first: help from the manifest, with oclif's help classes only.
  {in: join(ROOT, 'src', 'help', 'manifest-help.ts'), out: 'manifest-help'},
  // What bin/run.js starts otherwise: oclif itself, from the same chunks as the commands (one @oclif/core).
  {in: join(ROOT, 'src', 'oclif.ts'), out: 'oclif'},
  // Scripts the sandbox runs as processes of their own: it starts <package root>/dist/daemon.js and
  // docker-shim.js, stubs that scripts/pack-dist.mjs writes to load these from the pack.
  {in: join(SANDBOX, 'src', 'daemon.ts'), out: 'processes/daemon'},
  {in: join(SANDBOX, 'src', 'docker-shim.ts'), out: 'processes/docker-shim'},
]

// The SDK clients, client-node and @inquirer/prompts are imported with `await import()`, which
// keeps the whole module (EC2 alone has ~700 commands). Each is replaced by a module that
// re-exports only the names our sources mention, so that the rest is shaken out — except where
// a source takes the whole namespace (`import * as`: the sandbox's AWS front walks every
// operation of Route 53, EKS and AWS Backup).
const TRIMMED = /^(@aws-sdk\/client-[a-z0-9-]+|@aws-sdk\/credential-providers|@kubernetes\/client-node|@inquirer\/prompts)$/
const sources = [join(ROOT, 'src'), join(SANDBOX, 'src')].flatMap(tsFiles).map((f) => readFileSync(f, 'utf8'))
const words = new Set(sources.flatMap((text) => text.match(/[A-Za-z_$][\w$]*/g) ?? []))
const whole = new Set(sources.flatMap((text) => [...text.matchAll(/import \* as \w+ from '([^']+)'/g)].map((m) => m[1])))
// Texts of @oclif/core changed in the bundle, each for a start cost of every command.
const OCLIF_PATCHES = [
  // Its Node version warning loads semver: bin/run.js checks the version first.
  {file: '/lib/index.js', from: '\ncheckNodeVersion();\n', to: '\n'},
  // Its plugin sorts the commands with localeCompare, whose first call starts ICU's collator:
  // ~8 ms. Our ids (lowercase words and ':') sort the same by code unit; test/cli/bundle.test.ts
  // checks that for every id of the manifest.
  {file: '/lib/config/plugin.js', from: '.sort((a, b) => a.id.localeCompare(b.id));', to: '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));'},
  // Its Config asks wsl-utils whether this is WSL: that module imports child_process, util and
  // fs/promises for its PowerShell helpers (~40 of Node's modules, ~5 ms). The answer is is-wsl's.
  {file: '/lib/util/os.js', from: "(await import('wsl-utils')).isWsl", to: "(await import('is-wsl')).default"},
]

const onlyWhatIsUsed = {
  name: 'only-what-is-used',
  setup(b) {
    b.onResolve({filter: TRIMMED}, async (args) => {
      if (args.pluginData?.real || whole.has(args.path)) return undefined
      const real = await b.resolve(args.path, {kind: args.kind, resolveDir: args.resolveDir, pluginData: {real: true}})
      if (real.errors.length) return {errors: real.errors}
      return {path: real.path, namespace: 'trimmed', pluginData: {name: args.path, resolveDir: args.resolveDir}}
    })
    // client-node's undici (757 KB): Node's own, behind its global fetch (src/lib/k8s/undici-from-node.ts).
    b.onResolve({filter: /^undici$/}, (args) =>
      args.importer.includes('/node_modules/@kubernetes/client-node/') ? {path: join(ROOT, 'src', 'lib', 'k8s', 'undici-from-node.ts')} : undefined,
    )
    // zod re-exports every locale as `z.locales` (260 KB); we use only its default, English, which
    // zod imports by itself.
    b.onResolve({filter: /^\.\.\/locales\/index\.js$/}, (args) => (args.importer.includes('/node_modules/zod/') ? {path: 'zod-locales', namespace: 'trimmed'} : undefined))
    b.onLoad({filter: /^zod-locales$/, namespace: 'trimmed'}, () => ({contents: 'export {}'}))
    // Node makes the ES module face of a builtin by reading every export, getters included, and
    // node:http's WebSocket, CloseEvent and MessageEvent getters load Node's own undici: ~20 ms of
    // every command that makes a request. The bundle takes node:http with require() instead.
    b.onResolve({filter: /^(node:)?http$/}, (args) =>
      args.namespace === 'required-builtin' ? {path: 'node:http', external: true} : {path: 'node:http', namespace: 'required-builtin'},
    )
    b.onLoad({filter: /.*/, namespace: 'required-builtin'}, (args) => {
      const lazy = new Set(['WebSocket', 'CloseEvent', 'MessageEvent'])
      const names = Object.keys(createRequire(import.meta.url)(args.path)).filter((n) => !lazy.has(n) && /^[A-Za-z_$][\w$]*$/.test(n))
      return {contents: `const m = require(${JSON.stringify(args.path)}); export default m; export const {${names.join(', ')}} = m;`, loader: 'js'}
    })
    // An SDK client's schemas are one module of arrays, which esbuild keeps whole (EC2: 552 KB for
    // one command) because their objects have computed keys (`{[_xN]: _GIr}`, `_xN` a string
    // constant of the file): a key's toString() might do anything. The same keys written out as
    // the strings they are let it keep only the schemas a command reaches.
    b.onLoad({filter: /\/@aws-sdk\/(client-[a-z0-9-]+|nested-clients)\/dist-es\/(submodules\/[^/]+\/)?schemas\/schemas_\d+\.js$/}, (args) => {
      const text = readFileSync(args.path, 'utf8')
      const strings = new Map([...text.matchAll(/^const (_\w+) = ("[^"\\]*");$/gm)].map((m) => [m[1], m[2]]))
      return {contents: text.replace(/([{,]\s*)\[(_\w+)\]\s*:/g, (all, before, name) => (strings.has(name) ? `${before}${strings.get(name)}:` : all)), loader: 'js'}
    })
    // @oclif/core is CommonJS whose modules require one another at the top (its index, everything;
    // main.js, the help classes), so that a command ran ~330 KB of oclif's module code it never
    // calls. Each such require becomes a binding loaded on its first use; of Node's own modules,
    // only child_process (which brings ~30 more). Then OCLIF_PATCHES.
    b.onLoad({filter: /\/node_modules\/@oclif\/core\/lib\/.*\.js$/}, (args) => {
      let text = readFileSync(args.path, 'utf8')
      text = text.replace(
        /^(const|var|let) (\w+) = ((?:__importStar|__importDefault)?\(?require\("((?!node:)[^"]+|node:child_process)"\)\)?);$/gm,
        (all, kind, name, rhs) => `${kind} ${name} = __oclifLazy(() => ${rhs});`,
      )
      text = text.replace(
        /^exports\.(\w+) = (__importStar\(require\("\.[^"]+"\)\));$/gm,
        (all, name, rhs) => `Object.defineProperty(exports, "${name}", {enumerable: true, configurable: true, get: () => ${rhs}});`,
      )
      for (const patch of OCLIF_PATCHES.filter((p) => args.path.endsWith(p.file))) {
        // An oclif that no longer has the text refuses the build: the patch would silently not apply.
        if (!text.includes(patch.from)) throw new Error(`${args.path} no longer has "${patch.from}": see OCLIF_PATCHES in scripts/bundle.mjs`)
        text = text.replace(patch.from, patch.to)
      }
      return {contents: `const {lazy: __oclifLazy} = require(${JSON.stringify(join(ROOT, 'scripts', 'lazy-require.mjs'))});\n${text}`, loader: 'js'}
    })
    b.onLoad({filter: /.*/, namespace: 'trimmed'}, (args) => {
      const all = Object.keys(createRequire(join(args.pluginData.resolveDir, 'x.js'))(args.pluginData.name))
      // Never the aggregated client (EC2 beside EC2Client): it imports every command. Its name is a
      // word of our comments, not a class our code uses.
      const used = all.filter((n) => words.has(n) && !all.includes(`${n}Client`))
      // Where a name has a file of its own beside the index (@aws-sdk/credential-providers: fromIni.js),
      // that file: through the index, esbuild would also make chunks of the `await import()`s in the
      // functions it then drops (Cognito's client: three files of nothing a command can run).
      const from = (n) => (existsSync(join(dirname(args.path), `${n}.js`)) ? `./${n}.js` : args.path)
      return {contents: used.map((n) => `export {${n}} from ${JSON.stringify(from(n))}`).join('\n'), resolveDir: dirname(args.path)}
    })
    // oclif's spinner (ux.action, which our commands do not use) draws one of two of cli-spinners'
    // ninety: the other 30 KB would be loaded by every command that starts oclif.
    b.onLoad({filter: /\/node_modules\/cli-spinners\/spinners\.json$/}, (args) => {
      const {dots2, line} = JSON.parse(readFileSync(args.path, 'utf8'))
      return {contents: JSON.stringify({dots2, line}), loader: 'json'}
    })
  },
}

rmSync(OUT, {recursive: true, force: true})
const result = await build({
  entryPoints,
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  mainFields: ['module', 'main'], // the ESM builds, which tree-shake (the AWS SDK's dist-es)
  chunkNames: 'chunks/[name]-[hash]', // outside dist/commands, where oclif looks for commands
  metafile: true,
  minify: true, // the install is measured in MB and seconds; stack traces still name functions:
  keepNames: true, // oclif and our error messages use class and function names
  legalComments: 'none', // the licences are collected into THIRD-PARTY-LICENSES.md instead
  logLevel: 'warning',
  plugins: [onlyWhatIsUsed],
  // @oclif/core reads tsconfig.json with it only in development (and does without it).
  external: ['typescript'],
  // Bundled CommonJS (oclif, the AWS SDK's dependencies) calls require() and uses __dirname.
  banner: {
    js: "import {createRequire as __cjsRequire} from 'node:module';import {fileURLToPath as __cjsPath} from 'node:url';const require=__cjsRequire(import.meta.url),__filename=__cjsPath(import.meta.url),__dirname=__cjsPath(new URL('.',import.meta.url));",
  },
})
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile))

// client-node must have Node's undici (the plugin above), never a bundled copy beside it.
const bundledUndici = Object.keys(result.metafile.inputs).filter((f) => f.includes('node_modules/undici/'))
if (bundledUndici.length) throw new Error(`undici is bundled (${bundledUndici[0]} …): client-node should get src/lib/k8s/undici-from-node.ts`)

// A bundled `await import()` of a CommonJS module yields only its default export: named ones that
// work unbundled (Node reads them from the CommonJS source) would be undefined. Refuse the build
// where our sources do that, except where they take the default (pg) or unwrap it (the help path).
const DEFAULT_ONLY = new Set(['pg', '@oclif/core/lib/help/index.js', '@oclif/core/lib/util/os.js'])
const cjsDynamic = Object.entries(result.metafile.inputs)
  .filter(([file]) => /^(src|packages\/sandbox\/src)\//.test(file))
  .flatMap(([file, input]) =>
    input.imports
      .filter((i) => i.kind === 'dynamic-import' && i.original && !DEFAULT_ONLY.has(i.original) && result.metafile.inputs[i.path]?.format === 'cjs')
      .map((i) => `${file}: import('${i.original}')`),
  )
if (cjsDynamic.length) throw new Error(`CommonJS imported with await import(), which keeps only its default export in the bundle: import it statically.\n${cjsDynamic.join('\n')}`)

// The licence of every package that has code in the bundle, each text once with the packages
// under it (the 100-odd AWS SDK packages share one Apache-2.0 text).
const packageDirs = new Set()
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(?:\w+:)?(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (m) packageDirs.add(resolve(ROOT, m[1]))
}
const byText = new Map()
for (const dir of packageDirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f))
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `${pkg.license ?? 'UNKNOWN'} (the package has no licence file)`
  if (!byText.has(text)) byText.set(text, [])
  byText.get(text).push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})`)
}
const sections = [...byText].map(([text, names]) => `## ${names.sort().join(', ')}\n\n\`\`\`\n${text}\n\`\`\``).sort()
writeFileSync(
  join(ROOT, 'THIRD-PARTY-LICENSES.md'),
  `# Third-party licences\n\nclipper-ops ships as one bundle (scripts/bundle.mjs) holding code of ${packageDirs.size} packages; their licences follow. Generated by the build.\n\n${sections.join('\n\n')}\n`,
)
