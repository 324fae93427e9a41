import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * The root of the package the sandbox runs from, wherever it is installed: where dist/daemon.js
 * and dist/docker-shim.js are. That is clipper-ops's own root, the sandbox being bundled into it
 * (scripts/bundle.mjs).
 */
export function sandboxPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir
    dir = dirname(dir)
  }
  throw new Error(`cannot find the package.json of @clipper-ops/sandbox above ${fileURLToPath(import.meta.url)}`)
}
