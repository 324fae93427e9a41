import {fileURLToPath} from 'node:url'
import {dirname, join, resolve} from 'node:path'
import {existsSync} from 'node:fs'

/** The installed package's root (where package.json, runbooks/ and examples/ are). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'runbooks'))) return dir
    dir = dirname(dir)
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
}

export function builtinRunbooksDir(): string {
  return join(packageRoot(), 'runbooks')
}
