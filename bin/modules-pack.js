// Serves the bundle's modules from dist/modules.pack, one file, instead of ~150 files in dist/:
// npm installs a package at a cost per file (~1.6 ms each, measured: `npm run bench`), which was
// most of `npx clipper-ops`'s install. scripts/pack-dist.mjs writes the pack; this registers
// Node's synchronous module hooks (module.registerHooks: Node 22.15+ and 24, which bin/run.js
// requires) so that an import of a file URL under dist/ that the pack holds is answered from it.
// The modules keep their URLs (import.meta.url, stack traces, Node's compile cache all work as
// with files); only their bytes come from the pack, read when a module is first imported.
// Imported first by bin/run.js and by the stubs in dist/ that the sandbox starts as processes.
// No pack (dist/ as esbuild left it, mid-build) registers nothing: the files are there.
import {closeSync, existsSync, fstatSync, openSync, readSync} from 'node:fs'
import {registerHooks} from 'node:module'
import {fileURLToPath} from 'node:url'

const DIST = new URL('../dist/', import.meta.url).href
const PACK = fileURLToPath(new URL('modules.pack', DIST))

if (existsSync(PACK)) {
  // Layout (scripts/pack-dist.mjs): a 4-byte little-endian length, that many bytes of a JSON
  // index {size, modules: {"<path under dist/>": [start, end]}}, then the modules' bytes.
  const fd = openSync(PACK, 'r')
  const read = (length, position) => {
    const bytes = Buffer.allocUnsafe(length)
    if (readSync(fd, bytes, 0, length, position) !== length) damaged(`cannot read ${length} bytes at ${position}`)
    return bytes
  }
  const damaged = (why) => {
    closeSync(fd)
    throw new Error(`${PACK} is damaged (${why}): reinstall clipper-ops (npm install clipper-ops; for npx, remove npx's copy: rm -rf ~/.npm/_npx).`)
  }
  const indexLength = read(4, 0).readUInt32LE(0)
  let index
  try {
    index = JSON.parse(read(indexLength, 4).toString('utf8'))
  } catch (e) {
    damaged(`its index does not parse: ${e.message}`)
  }
  const base = 4 + indexLength
  const size = fstatSync(fd).size
  if (size !== base + index.size) damaged(`${size} bytes, not the ${base + index.size} it was written with`)
  const modules = new Map(Object.entries(index.modules))
  const packed = (url) => (url.startsWith(DIST) ? modules.get(url.slice(DIST.length)) : undefined)

  registerHooks({
    resolve(specifier, context, nextResolve) {
      // Relative imports between modules, and the file URLs that bin/run.js and oclif import.
      const url = specifier.startsWith('file:')
        ? specifier
        : specifier.startsWith('.') && context.parentURL?.startsWith('file:')
          ? new URL(specifier, context.parentURL).href
          : undefined
      if (url !== undefined && packed(url)) return {url, format: 'module', shortCircuit: true}
      return nextResolve(specifier, context)
    },
    load(url, context, nextLoad) {
      const at = packed(url)
      if (!at) return nextLoad(url, context)
      return {format: 'module', source: read(at[1] - at[0], base + at[0]), shortCircuit: true}
    },
  })
}
