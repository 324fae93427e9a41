import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {EXIT, UsageError} from '../../lib/errors.js'
import {configFlag, durationFlag, envFlag, stateDirFlag, yesFlag} from '../../lib/flags.js'
import {formatDuration, parseDuration} from '../../lib/util/duration.js'
import {awsClient} from '../../lib/aws/clients.js'
import {deleteInstance, inRegion, OWNER_TAG, PURPOSE_TAG, tagsOf} from '../../lib/rds/restore.js'

export default class DrCleanup extends OpsCommand<typeof DrCleanup> {
  static override summary = 'Delete scratch instances that killed drills left behind (by tag and age).'
  static override description = `Lists the DB instances tagged clipper-ops:purpose=dr-drill (the drill's scratch instances, each tagged with its run id in clipper-ops:run) that are older than --older-than, and deletes them: deletion protection off, no final snapshot, waiting until each is gone. A drill deletes its own instance when it fails or is interrupted; this sweeps what a drill killed outright (SIGKILL, a lost runner) left. Never touches the live instance or anything untagged.

Exit codes: 0 nothing left behind (or all deleted), 1 a delete failed, 2 bad flags or config.`

  static override examples = [
    {description: 'What would be deleted', command: '<%= config.bin %> dr cleanup --env production --dry-run'},
    {description: 'Sweep drill leftovers older than two hours, in CI', command: '<%= config.bin %> dr cleanup --env production --older-than 2h --yes'},
  ]

  static override flags = {
    env: envFlag,
    'older-than': durationFlag({summary: 'Only instances created longer ago than this (a running drill is younger).', default: '2h'}),
    'dry-run': Flags.boolean({summary: 'List what would be deleted, delete nothing.'}),
    yes: yesFlag,
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const {name, environment: env} = await loadEnvironment({env: f.env, config: f.config, stateRoot: this.stateDir(f['state-dir']).root})
    const {DescribeDBInstancesCommand} = await import('@aws-sdk/client-rds')
    const minAge = parseDuration(f['older-than'])!
    const now = Date.now()
    const leftovers = []
    // The environment's region, and the secondary one where region-wide drills restore.
    for (const region of new Set([env.aws?.region, env.dr?.region?.name].filter((r): r is string => Boolean(r)))) {
      const rds = await awsClient('rds', inRegion(env, region))
      let Marker: string | undefined
      do {
        const page = await rds.send(new DescribeDBInstancesCommand({Marker}))
        for (const db of page.DBInstances ?? []) {
          if (tagsOf(db)[PURPOSE_TAG] !== 'dr-drill' || db.DBInstanceIdentifier === env.database?.rdsInstance) continue
          leftovers.push({id: db.DBInstanceIdentifier!, region, run: tagsOf(db)[OWNER_TAG], status: db.DBInstanceStatus, ageMs: now - (db.InstanceCreateTime?.getTime() ?? now)})
        }
        Marker = page.Marker
      } while (Marker)
    }
    const old = leftovers.filter((l) => l.ageMs >= minAge)
    for (const l of leftovers)
      this.note(
        `${old.includes(l) ? '✖' : '·'} ${l.id} (run ${l.run ?? '?'}, ${l.status}, ${formatDuration(l.ageMs)} old)${old.includes(l) ? '' : ' — younger than --older-than, kept'}`,
      )
    if (old.length === 0) this.note(`No drill instance older than ${f['older-than']} in ${name}.`)
    const out = {environment: name, olderThan: f['older-than'], leftovers: old.map((l) => ({...l, deleted: false}))}
    if (f['dry-run'] || old.length === 0) return out
    if (!f.yes && env.protected) throw new UsageError(`${name} is protected: pass --yes to delete ${old.length} drill instance(s).`, {code: 'CONFIRMATION_REQUIRED'})
    let failed = 0
    for (const l of out.leftovers) {
      try {
        await deleteInstance(inRegion(env, l.region), l.id, {timeoutMs: 30 * 60_000, capMs: 10_000, signal: AbortSignal.timeout(30 * 60_000), log: (line) => this.note(line)})
        l.deleted = true
        this.note(`deleted ${l.id}`)
      } catch (error) {
        failed++
        this.warn(`${l.id}: ${(error as Error).message}`)
      }
    }
    if (failed) {
      if (this.jsonEnabled()) this.logJson(out)
      this.exit(EXIT.failed)
    }
    return out
  }
}
