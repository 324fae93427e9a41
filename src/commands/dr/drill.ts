import {appendFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {Flags} from '@oclif/core'
import type {RunOutcome} from '../../lib/engine/executor.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {RUN_EXIT_CODES, UsageError} from '../../lib/errors.js'
import {durationFlag, runFlags} from '../../lib/flags.js'
import {refuseLiveTarget, restoreFromFlags, restoreFromParams} from '../../lib/restore-flags.js'
import {RunbookCommand} from '../../lib/runbook-command.js'
import {deleteInstance, describeInstance, inRegion, OWNER_TAG, tagsOf} from '../../lib/rds/restore.js'
import {awsClient} from '../../lib/aws/clients.js'
import {drillJunit, drillMarkdown, drillResult} from '../../lib/report/drill-report.js'
import {appendDrill} from '../../lib/dr/history.js'

export default class DrDrill extends RunbookCommand<typeof DrDrill> {
  static override summary = 'Measure RTO and RPO from a real restore: restore to a scratch instance, validate it over SQL, delete it.'
  static override description = `Runs the built-in dr-drill runbook: the newest restorable point (or --point-in-time, --snapshot, --recovery-point) restored to a scratch instance named and tagged for the drill (clipper-ops:run = the run id), waited for, connected to and validated over a real PostgreSQL connection with the SQL checks of dr.checks and the newest row by dr.freshness; then the scratch instance is deleted.

RTO = drill start → validation passed; RPO = drill start − the newest row restored; each judged against slos.rto and slos.rpo (or --rto, --rpo). The reports — report.json, report.md (the phases as a Mermaid gantt; appended to $GITHUB_STEP_SUMMARY when set) and junit.xml — go to --report-dir. Exit 1 when validation fails or RTO or RPO misses its target.

The scratch instance is deleted whatever happens: after a failure by the runbook's compensating step, after Ctrl-C or SIGTERM by this command before it exits; a drill killed outright leaves it to "dr cleanup", which sweeps drill instances by tag and age.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'The weekly drill, reports for CI', command: '<%= config.bin %> dr drill --env production --yes --report-dir reports/'},
    {description: 'What the drill would request, checked', command: '<%= config.bin %> dr drill --env production --dry-run'},
    {description: 'Judge against a tighter RPO than the SLO', command: '<%= config.bin %> dr drill --env staging --rpo 1m'},
  ]

  static override flags = {
    ...runFlags,
    ...restoreFromFlags,
    target: Flags.string({summary: 'Identifier of the scratch instance (default <database.rdsInstance>-drill-<run id>).'}),
    rto: durationFlag({summary: 'Recovery time objective to judge against (default slos.rto).'}),
    rpo: durationFlag({summary: 'Recovery point objective to judge against (default slos.rpo).'}),
    'report-dir': Flags.string({summary: 'Where to write report.json, report.md and junit.xml.', default: '.'}),
    scope: Flags.option({
      summary:
        "service: restore in the environment's region, judged against slos.rto/rpo; region: restore the newest cross-region copy in dr.region, judged against slos.regionRto/regionRpo.",
      options: ['service', 'region'] as const,
      default: 'service' as const,
      exclusive: ['point-in-time', 'snapshot', 'recovery-point'],
    })(),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const env = (await loadEnvironment({env: f.env, config: f.config, stateRoot: this.stateDir(f['state-dir']).root})).environment
    refuseLiveTarget(f.target, env.database?.rdsInstance)
    if (f.scope === 'region') {
      // A region-wide recovery: the newest copy in the secondary region, against the region objectives.
      if (!env.dr?.region)
        throw new UsageError('--scope region needs dr.region in the environment config: the secondary region and the network a restore there uses.', {code: 'NO_DR_REGION'})
      return this.runRunbook('dr-drill', {
        from: 'region-copy',
        region: env.dr.region.name,
        target: f.target ?? '',
        rto: f.rto ?? env.slos.regionRto,
        rpo: f.rpo ?? env.slos.regionRpo,
      })
    }
    return this.runRunbook('dr-drill', {...restoreFromParams(f), target: f.target ?? '', rto: f.rto ?? '', rpo: f.rpo ?? ''})
  }

  /** Sweep the scratch instance if the run did not get to delete it, then write the three reports. */
  protected override async afterRun(outcome: RunOutcome): Promise<void> {
    const s = outcome.state
    const f = this.flags
    const home = (await loadEnvironment({env: s.environment, config: f.config, stateRoot: this.stateDir(f['state-dir']).root})).environment
    // Where the scratch instance is: the secondary region for a region-wide drill.
    const env = inRegion(home, (s.params.region as string) || undefined)
    const target = (s.steps.find((x) => x.id === 'restore')?.inputs as {target?: string} | undefined)?.target
    let cleanup = {instance: target, result: 'never made'}
    if (target) {
      const db = await describeInstance(await awsClient('rds', env), target).catch(() => undefined)
      if (db && tagsOf(db)[OWNER_TAG] === s.id) {
        this.note(`Deleting the scratch instance ${target} (the run ended ${s.status} before its cleanup)…`)
        const signal = AbortSignal.timeout(30 * 60_000)
        await deleteInstance(env, target, {timeoutMs: 30 * 60_000, capMs: 10_000, signal, log: (l) => this.note(l)})
        cleanup = {instance: target, result: 'deleted by the command after the run'}
      } else if (s.steps.some((x) => x.kind === 'rds-delete' && x.status === 'succeeded')) cleanup = {instance: target, result: 'deleted'}
      else if (db) cleanup = {instance: target, result: 'exists, not made by this run: left alone'}
    }
    const result = drillResult(s, cleanup)
    // A restore made through AWS Backup gets the drill's verdict as its validation result.
    const restoreJobId = s.steps.find((x) => x.id === 'restore')?.outputs?.restoreJobId as string | undefined
    if (restoreJobId) {
      const {PutRestoreValidationResultCommand} = await import('@aws-sdk/client-backup')
      const message = (result.verdict === 'pass' ? `clipper-ops dr drill ${s.id}: passed` : `clipper-ops dr drill ${s.id}: ${result.reason ?? 'failed'}`).slice(0, 1000)
      await (
        await awsClient('backup', env)
      )
        .send(
          new PutRestoreValidationResultCommand({
            RestoreJobId: restoreJobId,
            ValidationStatus: result.verdict === 'pass' ? 'SUCCESSFUL' : 'FAILED',
            ValidationStatusMessage: message,
          }),
        )
        .then(() => (result.restoreJob = {id: restoreJobId, validationReported: result.verdict === 'pass' ? 'SUCCESSFUL' : 'FAILED'}))
        .catch((error: Error) => this.warn(`Could not record the verdict on AWS Backup restore job ${restoreJobId}: ${error.message}`))
    }
    // The team's record: appended before the reports, so a report names where it went.
    await appendDrill(home, s.environment!, this.stateDir(f['state-dir']).root, result)
      .then((where) => (result.history = where))
      .catch((error: Error) => this.warn(`The drill's result could not be added to the history: ${error.message}`))
    const dir = resolve(f['report-dir'])
    mkdirSync(dir, {recursive: true})
    const md = drillMarkdown(result)
    writeFileSync(join(dir, 'report.json'), `${JSON.stringify(result, null, 2)}\n`)
    writeFileSync(join(dir, 'report.md'), md)
    writeFileSync(join(dir, 'junit.xml'), drillJunit(result))
    if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${md}\n`)
    const fmt = (m?: {ms: number; targetMs: number; met: boolean}) =>
      m ? `${(m.ms / 1000).toFixed(1)}s (target ${(m.targetMs / 1000).toFixed(0)}s, ${m.met ? 'met' : 'MISSED'})` : 'not measured'
    this.note(`DR drill ${result.verdict === 'pass' ? 'passed' : 'FAILED'}: RTO ${fmt(result.rto)}, RPO ${fmt(result.rpo)}. Reports: ${dir}/report.{json,md}, junit.xml`)
  }
}
