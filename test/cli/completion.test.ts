/**
 * Shell completion as oclif users expect it: `autocomplete bash|zsh` from @oclif/plugin-autocomplete
 * (which writes its scripts to the cache dir, CLIPPER_OPS_CACHE_DIR here), and fish, which that
 * plugin lacks, from our own `autocomplete` (which hands the other shells to the plugin's) and
 * `autocomplete script fish`. The scripts are run in the real shells where they are installed:
 * bash always, zsh and fish when present.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {ROOT, cli, removeDir, tempDir} from '../helpers/cli.js'

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0

function shell(sh: string, script: string): {code: number | null; stdout: string; stderr: string} {
  const r = spawnSync(sh, ['-c', script], {encoding: 'utf8', timeout: 30_000, env: {...process.env, HOME: cache}})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** Visible command ids, as a user types them ("runs resume"): the CLI's, the sandbox's and the
 * bundled oclif plugins' are all in the one manifest. */
function visibleCommands(): string[] {
  return Object.values(JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands as Record<string, {id: string; hidden?: boolean}>)
    .filter((c) => !c.hidden)
    .map((c) => c.id.split(':').join(' '))
}

let cache: string
let env: NodeJS.ProcessEnv
beforeAll(() => {
  cache = tempDir('clipper-ops-completion-')
  // Vitest sets NODE_ENV=test, under which oclif warns that the plugin's internal `autocomplete
  // create` parsed no arguments; an installed CLI (NODE_ENV unset) never shows that warning.
  env = {CLIPPER_OPS_CACHE_DIR: cache, NODE_ENV: undefined}
})
afterAll(() => removeDir(cache))

describe('bash', () => {
  let setup: string
  beforeAll(async () => {
    const r = await cli(['autocomplete', 'bash'], {env})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('printf "$(clipper-ops autocomplete script bash)" >> ~/.bashrc')
    const s = await cli(['autocomplete', 'script', 'bash'], {env})
    expect(s.code, s.stderr).toBe(0)
    setup = s.stdout
  })

  test('the scripts are written to the cache dir and name our commands and flags', () => {
    expect(setup).toContain(`CLIPPER_OPS_AC_BASH_SETUP_PATH=${join(cache, 'autocomplete', 'bash_setup')}`)
    expect(existsSync(join(cache, 'autocomplete', 'bash_setup'))).toBe(true)
    const fn = readFileSync(join(cache, 'autocomplete', 'functions', 'bash', 'clipper-ops.bash'), 'utf8')
    expect(fn).toContain('complete -F _clipper-ops_autocomplete clipper-ops')
    expect(fn).toMatch(/^rollout .*--env/m)
    expect(fn).toMatch(/^runs:resume /m)
    expect(fn).toMatch(/^audit .*--since/m)
  })

  // The line `autocomplete script bash` prints, as ~/.bashrc would run it; then what <TAB> asks.
  const complete = (...words: string[]) =>
    shell('bash', `${setup}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _clipper-ops_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`)

  test('in bash, "clipper-ops runs re<TAB>" offers resume; flags and subcommands complete too', () => {
    const r = complete('clipper-ops', 'runs', 're')
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['resume'])
    expect(complete('clipper-ops', 'runs', '').stdout.split('\n').filter(Boolean)).toEqual(['list', 'resume', 'show', 'unlock'])
    expect(complete('clipper-ops', 'audit', '--s').stdout.split('\n').filter(Boolean)).toEqual(['--since', '--state-dir'])
    expect(complete('clipper-ops', 'ro').stdout.split('\n').filter(Boolean)).toEqual(['rollback', 'rollout'])
  })
})

describe('zsh', () => {
  let fn: string
  beforeAll(async () => {
    const r = await cli(['autocomplete', 'zsh'], {env})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('printf "$(clipper-ops autocomplete script zsh)" >> ~/.zshrc')
    fn = join(cache, 'autocomplete', 'functions', 'zsh', '_clipper-ops')
  })

  test('the completion function is written to the cache dir and names our commands and flags', async () => {
    const s = await cli(['autocomplete', 'script', 'zsh'], {env})
    expect(s.stdout).toContain(`CLIPPER_OPS_AC_ZSH_SETUP_PATH=${join(cache, 'autocomplete', 'zsh_setup')}`)
    expect(readFileSync(join(cache, 'autocomplete', 'zsh_setup'), 'utf8')).toContain(join(cache, 'autocomplete', 'functions', 'zsh'))
    const text = readFileSync(fn, 'utf8')
    expect(text.startsWith('#compdef clipper-ops')).toBe(true)
    expect(text).toContain('_clipper-ops_runs() {')
    expect(text).toMatch(/"resume\[Continue a run/)
    expect(text).toMatch(/"rollout\[Shift traffic/)
    expect(text).toContain('--env')
  })

  test.skipIf(!has('zsh'))('zsh parses it', () => {
    const r = shell('zsh', `zsh -n '${fn}'`)
    expect(r.code, r.stderr).toBe(0)
  })
})

describe('fish (not in @oclif/plugin-autocomplete: our own "autocomplete" adds it)', () => {
  let script: string
  let file: string
  beforeAll(async () => {
    const r = await cli(['autocomplete', 'script', 'fish'], {env})
    expect(r.code, r.stderr).toBe(0)
    script = r.stdout
    file = join(cache, 'clipper-ops.fish')
    writeFileSync(file, script)
  })

  test('"autocomplete fish", or "autocomplete" in fish, says where to put the script; other shells go to the plugin', async () => {
    const line = 'mkdir -p $__fish_config_dir/completions && clipper-ops autocomplete script fish > $__fish_config_dir/completions/clipper-ops.fish'
    const named = await cli(['autocomplete', 'fish'], {env})
    expect(named.code, named.stderr).toBe(0)
    expect(named.stdout).toContain(line)
    const inFish = await cli(['autocomplete'], {env: {...env, SHELL: '/usr/bin/fish'}})
    expect(inFish.code, inFish.stderr).toBe(0)
    expect(inFish.stdout).toContain(line)
    const inBash = await cli(['autocomplete'], {env: {...env, SHELL: '/bin/bash'}})
    expect(inBash.stdout).toContain('autocomplete script bash')
    const unknown = await cli(['autocomplete'], {env: {...env, SHELL: '/bin/tcsh'}})
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('Cannot tell which shell to set up (SHELL gives "tcsh"): name it, e.g. clipper-ops autocomplete bash')
  })

  test("the script names every visible command (ours and our plugins') and their flags", () => {
    const ids = visibleCommands()
    expect(ids).toEqual(expect.arrayContaining(['rollout', 'runs resume', 'sandbox up', 'autocomplete', 'help']))
    const list = script.split('\n').find((l) => l.startsWith('set -g __clipper_ops_commands '))!
    for (const id of ids) expect(list, id).toContain(` '${id}'`)
    expect(script).toContain("complete -c clipper-ops -n '__clipper_ops_at runs' -f -a 'resume' -d 'Continue a run")
    expect(script).toMatch(/^complete -c clipper-ops -n '__clipper_ops_command rollout' -l env -s e -r -d /m)
    expect(script).toMatch(/^complete -c clipper-ops -n '__clipper_ops_command runs list' -l status -x -a 'running succeeded failed interrupted'/m)
    expect(script).not.toContain('<%')
  })

  const complete = (line: string) =>
    shell('fish', `source '${file}'; complete -C '${line}'`)
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0])

  test.skipIf(!has('fish'))('fish parses it, and "clipper-ops runs re<TAB>" offers resume', () => {
    expect(shell('fish', `fish -n '${file}'`).code).toBe(0)
    expect(complete('clipper-ops runs re')).toEqual(['resume'])
    expect(complete('clipper-ops ro')).toEqual(['rollback', 'rollout'])
    expect(complete('clipper-ops audit --s')).toEqual(['--since', '--state-dir'])
    expect(complete('clipper-ops audit --env production --l')).toEqual(['--limit'])
    expect(complete('clipper-ops runs list --status ')).toEqual(['failed', 'interrupted', 'running', 'succeeded'])
    expect(complete('clipper-ops autocomplete ')).toEqual(['bash', 'fish', 'powershell', 'script', 'zsh'])
  })
})

test('the autocomplete plugin costs --help nothing: help starts no oclif, and the plugin is bundled (no plugin to load)', async () => {
  const r = await cli(['--help'], {env: {DEBUG: 'oclif:*'}})
  expect(r.code).toBe(0)
  expect(r.stderr).toBe('')
  const runs = await cli(['runs', 'list'], {env: {DEBUG: 'oclif:config*'}})
  expect(runs.stderr).toMatch(/oclif:config:clipper-ops using manifest from \S+oclif\.manifest\.json/)
  expect(runs.stderr).not.toMatch(/plugin-autocomplete/)
})
