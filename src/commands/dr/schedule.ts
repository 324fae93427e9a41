import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {UsageError} from '../../lib/errors.js'
import {configFlag, envFlag, stateDirFlag} from '../../lib/flags.js'
import {parseDuration} from '../../lib/util/duration.js'
import {drillWorkflow} from '../../lib/dr/workflow.js'

export default class DrSchedule extends OpsCommand<typeof DrSchedule> {
  static override summary = 'Write the CI workflow that runs the DR drill on a schedule.'
  static override description = `--ci github writes a GitHub Actions workflow: a weekly schedule (--cron) and manual dispatch, AWS credentials by OIDC (--role-arn; no stored keys), a concurrency group so two drills of an environment never overlap, a sweep of what killed drills left, the drill with its three reports uploaded, and the step summary filled with the drill's report and the history.`

  static override examples = [
    {
      description: 'A weekly drill of production',
      command: '<%= config.bin %> dr schedule --ci github --env production --role-arn arn:aws:iam::123456789012:role/clipper-dr-drill',
    },
  ]

  static override flags = {
    ci: Flags.option({summary: 'Which CI to write for.', options: ['github'] as const, required: true})(),
    env: envFlag,
    'role-arn': Flags.string({summary: 'The IAM role the workflow assumes by OIDC.', required: true}),
    cron: Flags.string({summary: 'When it runs (UTC, cron syntax).', default: '17 4 * * 1'}),
    package: Flags.string({summary: 'What npx runs (default: this version of clipper-ops, pinned).'}),
    file: Flags.string({summary: 'Where to write it (default .github/workflows/dr-drill-<env>.yml).'}),
    force: Flags.boolean({summary: 'Overwrite the file if it exists.'}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const {name, environment} = await loadEnvironment({env: f.env, config: f.config, stateRoot: this.stateDir(f['state-dir']).root})
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(f['role-arn']))
      throw new UsageError(`--role-arn ${f['role-arn']}: expected an IAM role ARN, e.g. arn:aws:iam::123456789012:role/clipper-dr-drill.`, {code: 'BAD_FLAG'})
    if (f.cron.trim().split(/\s+/).length !== 5)
      throw new UsageError(`--cron "${f.cron}": expected five fields (minute hour day month weekday), e.g. "17 4 * * 1".`, {code: 'BAD_FLAG'})
    if (!environment.aws || !environment.database?.rdsInstance || !environment.dr) {
      throw new UsageError(`${name} cannot be drilled: it needs aws, database.rdsInstance and dr (checks, freshness) in its config.`, {code: 'NOT_DRILLABLE'})
    }
    const file = resolve(f.file ?? `.github/workflows/dr-drill-${name}.yml`)
    if (existsSync(file) && !f.force) throw new UsageError(`${file} exists; pass --force to overwrite it.`, {code: 'EXISTS'})
    const rtoMinutes = Math.ceil(parseDuration(environment.slos?.rto ?? '1h')! / 60_000)
    const text = drillWorkflow({
      env: name,
      region: environment.aws.region,
      roleArn: f['role-arn'],
      cron: f.cron,
      packageSpec: f.package ?? `clipper-ops@${this.config.version}`,
      timeoutMinutes: rtoMinutes + 30,
    })
    mkdirSync(dirname(file), {recursive: true})
    writeFileSync(file, text)
    this.note(`Wrote ${file}: the drill of ${name} at "${f.cron}" (UTC) and on demand.`)
    return {file, environment: name}
  }
}
