import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {requireConfig, selectEnvironment} from '../../lib/config/load.js'
import {configFlag, stateDirFlag} from '../../lib/flags.js'
import {InvalidFileError} from '../../lib/errors.js'

export default class ConfigValidate extends OpsCommand<typeof ConfigValidate> {
  static override summary = 'Check clipper-ops.yaml.'
  static override description = `Finds the file (--config, then CLIPPER_OPS_CONFIG, then clipper-ops.yaml in this directory or a parent), then checks every environment against the schema. Every problem names the file, the line, the path inside the file and what would be valid.

Exit codes: 0 valid, 2 not valid or not found.`

  static override examples = ['<%= config.bin %> config validate', '<%= config.bin %> config validate --config ./deploy/clipper-ops.yaml --env production --json']

  static override flags = {
    config: configFlag,
    env: Flags.string({char: 'e', summary: 'Also check that this environment exists.'}),
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const loaded = await requireConfig({flag: this.flags.config, env: this.flags.env, stateRoot: this.stateDir(this.flags['state-dir']).root})
    if (this.flags.env) selectEnvironment(loaded, this.flags.env)
    // Beyond the schema: every gate's kind exists and takes its inputs (all problems at once).
    const {environmentProblems} = await import('../../lib/engine/check-config.js')
    const problems = (await Promise.all(Object.entries(loaded.config.environments).map(([name, e]) => environmentProblems(loaded.file, name, e)))).flat()
    if (problems.length) throw new InvalidFileError(`Config file ${loaded.file}`, problems)
    const envs = Object.entries(loaded.config.environments).map(([name, e]) => ({
      name,
      protected: e.protected,
      parts: Object.keys(e).filter((k) => !['protected', 'description', 'slos', 'rollout'].includes(k)),
    }))
    if (!this.jsonEnabled()) {
      this.log(`${loaded.file}: valid, ${envs.length} environment(s).`)
      for (const e of envs) this.log(`  ${e.name}${e.protected ? ' (protected)' : ''}: ${e.parts.join(', ') || 'no parts configured'}`)
    }
    return {valid: true, file: loaded.file, environments: envs}
  }
}
