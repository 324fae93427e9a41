import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The sandbox package's own root (where its package.json and dist/ are), wherever it is installed. */
export function sandboxPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir
    dir = dirname(dir)
  }
  throw new Error(`cannot find the package.json of @clipper-ops/sandbox above ${fileURLToPath(import.meta.url)}`)
}
