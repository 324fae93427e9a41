#!/usr/bin/env node
// The build's last step: every module esbuild wrote to dist/ goes into one file, dist/modules.pack,
// which bin/modules-pack.js serves to Node's module loader. npm installs a package at a cost per
// file (~1.6 ms each on the path npx takes, measured with `npm run bench`), and the bundle was
// ~150 files: that was most of the install. The oclif manifest and the prerendered help are made
// from the files before this step (scripts in package.json's `build`), which then removes them.
// The scripts the sandbox starts as processes of their own (dist/processes/*.js) get a stub at
// the path it starts (dist/daemon.js, dist/docker-shim.js) that loads the pack first.
import {readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative, resolve} from 'node:path'

const DIST = resolve(import.meta.dirname, '..', 'dist')
const PACK = join(DIST, 'modules.pack')

const files = (dir) => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
const modules = files(DIST)
  .filter((f) => f.endsWith('.js'))
  .sort()
if (!modules.some((f) => f.endsWith('/oclif.js'))) throw new Error(`${DIST} holds no bundle (packed already, or not built): run npm run build`)

const index = {size: 0, modules: {}}
const bytes = []
for (const file of modules) {
  const b = readFileSync(file)
  index.modules[relative(DIST, file)] = [index.size, index.size + b.length]
  index.size += b.length
  bytes.push(b)
}
const head = Buffer.from(JSON.stringify(index))
const length = Buffer.alloc(4)
length.writeUInt32LE(head.length)
writeFileSync(PACK, Buffer.concat([length, head, ...bytes]))

for (const file of modules) rmSync(file)
// The directories left empty (chunks/, commands/, hooks/, processes/).
for (const e of readdirSync(DIST, {withFileTypes: true})) {
  if (e.isDirectory() && files(join(DIST, e.name)).length === 0) rmSync(join(DIST, e.name), {recursive: true})
}

for (const name of Object.keys(index.modules).filter((m) => m.startsWith('processes/'))) {
  const stub = join(DIST, relative('processes', name))
  writeFileSync(
    stub,
    `#!/usr/bin/env node\n// Started by the sandbox as a process of its own; its code is ${name} in modules.pack (scripts/pack-dist.mjs).\nawait import('../bin/modules-pack.js')\nawait import('./${name}')\n`,
  )
}
console.log(`packed ${modules.length} modules (${(index.size / 1e6).toFixed(1)} MB) into ${relative(process.cwd(), PACK)}`)
