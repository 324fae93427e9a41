/**
 * A config that passed validation is kept, as JSON, in the user's cache dir (src/lib/config/load.ts):
 * the next command with the same file skips the YAML parser and the schema. These drive the
 * built CLI (only the bundle caches) with a cache dir of their own, and show which way a config
 * was read by planting a different, valid config in its cache entry.
 */
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, removeDir, tempDir} from '../helpers/cli.js'

const cwd = tempDir()
const cacheHome = join(cwd, 'cache')
const entries = () => {
  try {
    return readdirSync(join(cacheHome, 'clipper-ops', 'config')).filter((f) => f.endsWith('.json'))
  } catch {
    return []
  }
}
afterAll(() => removeDir(cwd))

const config = (envName: string) => `version: 1\nenvironments:\n  ${envName}:\n    description: a plain environment\n`

async function validate(file: string, env: NodeJS.ProcessEnv = {}) {
  const r = await cli(['config', 'validate', '--config', file, '--json'], {cwd, env: {XDG_CACHE_HOME: cacheHome, ...env}})
  return {...r, envs: r.code === 0 ? (JSON.parse(r.stdout) as {environments: {name: string}[]}).environments.map((e) => e.name) : []}
}

describe('the validated-config cache', () => {
  test('reads a config seen before from the cache, and validates an edited one again', async () => {
    const file = join(cwd, 'clipper-ops.yaml')
    writeFileSync(file, config('staging'))
    expect((await validate(file)).envs).toEqual(['staging'])
    expect(entries()).toHaveLength(1)
    const entry = join(cacheHome, 'clipper-ops', 'config', entries()[0]!)
    expect(JSON.parse(readFileSync(entry, 'utf8')).environments).toHaveProperty('staging')

    // Plant another environment in the entry: a run that reads it says so.
    const planted = JSON.parse(readFileSync(entry, 'utf8'))
    planted.environments = {'from-the-cache': planted.environments.staging}
    writeFileSync(entry, JSON.stringify(planted))
    expect((await validate(file)).envs).toEqual(['from-the-cache'])
    // CLIPPER_OPS_NO_CACHE=1 reads the file itself.
    expect((await validate(file, {CLIPPER_OPS_NO_CACHE: '1'})).envs).toEqual(['staging'])

    // Another text is another entry: an edit is never answered from the old one.
    writeFileSync(file, config('production'))
    expect((await validate(file)).envs).toEqual(['production'])
    expect(entries()).toHaveLength(2)
  })

  test('keeps nothing of a config that fails validation', async () => {
    const before = entries().length
    const file = join(cwd, 'bad.yaml')
    writeFileSync(file, 'version: 1\nenvironments:\n  staging:\n    dns: {ttl: -5}\n')
    const r = await validate(file)
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain(file) // --json: the error is the JSON on stdout
    expect(entries()).toHaveLength(before)
  })
})
