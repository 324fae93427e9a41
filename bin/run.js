#!/usr/bin/env node
// clipper-ops entry point. Checks the Node version first, with plain JavaScript that
// parses on any Node, so that an old Node gets one clear line instead of a stack trace.
const MIN = [22, 22, 2] // @inquirer/prompts 8 and @kubernetes/client-node 2 need this much (measured)
const cur = process.versions.node.split('.').map(Number)
const old = cur[0] < MIN[0] || (cur[0] === MIN[0] && (cur[1] < MIN[1] || (cur[1] === MIN[1] && cur[2] < MIN[2])))
if (old || (cur[0] === 24 && cur[1] < 15) || cur[0] === 23) {
  process.stderr.write(
    `clipper-ops needs Node.js 22.22.2 or newer in the 22 line, or 24.15 or newer (this is ${process.versions.node}); install Node 24 LTS from https://nodejs.org or run it through "npx clipper-ops".\n`,
  )
  process.exit(2)
}

// oclif ignores NO_COLOR unless it is mapped to FORCE_COLOR=0 (oclif/core#855).
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0'

// `clipper-ops … | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0)
  throw e
})

// Node keeps the compiled bundle on disk between runs (in the OS temp dir): ~10-20 % off every start.
const {enableCompileCache} = await import('node:module')
enableCompileCache?.()

// The bundle's modules are one file, dist/modules.pack: this makes Node load them from it. A
// damaged pack (a partial install) is said in one line, not a stack trace.
try {
  await import('./modules-pack.js')
} catch (e) {
  process.stderr.write(`clipper-ops: ${e.message}\n`)
  process.exit(1)
}

// Help is answered from oclif.manifest.json without starting oclif (src/help/manifest-help.ts);
// anything else, and help it cannot render exactly, goes to oclif (as does all help with
// CLIPPER_OPS_HELP_FROM_OCLIF=1, which test/cli/help.test.ts compares with). Both come from the
// bundle in dist/: the installed package has no node_modules.
// A path, not the URL's pathname: that keeps a space or an ü percent-encoded ("/Users/Jo%20Smith").
const {fileURLToPath} = await import('node:url')
const root = fileURLToPath(new URL('..', import.meta.url))
const {manifestHelp} = await import('../dist/manifest-help.js')
if (process.env.CLIPPER_OPS_HELP_FROM_OCLIF === '1' || !(await manifestHelp(root, process.argv.slice(2)))) {
  const {execute} = await import('../dist/oclif.js')
  await execute({dir: import.meta.url})
}
