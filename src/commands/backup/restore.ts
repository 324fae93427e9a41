import {Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../../lib/errors.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {runFlags} from '../../lib/flags.js'
import {refuseLiveTarget, restoreFromFlags, restoreFromParams} from '../../lib/restore-flags.js'
import {RunbookCommand} from '../../lib/runbook-command.js'

export default class BackupRestore extends RunbookCommand<typeof BackupRestore> {
  static override summary = 'Restore the database to a new instance: the latest point, a point in time, a snapshot or an AWS Backup recovery point.'
  static override description = `Runs the built-in backup-restore runbook. Never onto the live instance: --target is always a new one (promoting a restore is a separate runbook). The point restored is always explicit (--latest reads the latest restorable time and passes it), and so is the network: DB subnet group, security groups, parameter group, class, Multi-AZ, not public, tags — from database.restore in the config, else copied from the source (left out, RDS would restore into the default VPC, security group and parameter group). --recovery-point restores through AWS Backup (StartRestoreJob with the point's restore metadata and an idempotency token).

--dry-run checks what would make the restore fail (the target exists, the subnet group, security groups and parameter group, the KMS key, the IAM role AWS Backup would pass, the time inside the PITR window, the snapshot or recovery point ready) and prints the exact request. Waits poll with a capped delay, stop on failure states, and retry not-found right after the request.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'The newest restorable point, to a new instance', command: '<%= config.bin %> backup restore --env production --latest --target clipper-prod-restore-1'},
    {
      description: 'Just before a bad migration ran',
      command: '<%= config.bin %> backup restore --env production --point-in-time 2026-12-01T03:04:05Z --target clipper-prod-before-migration',
    },
    {
      description: 'The exact request, checked, without sending it',
      command: '<%= config.bin %> backup restore --env production --snapshot clipper-before-cutover --target clipper-check --dry-run',
    },
  ]

  static override flags = {
    ...runFlags,
    ...restoreFromFlags,
    target: Flags.string({summary: 'Identifier of the new instance (it must not exist).', required: true}),
  }

  async run(): Promise<unknown> {
    const f = this.flags
    refuseLiveTarget(f.target, (await loadEnvironment({env: f.env, config: f.config, stateRoot: this.stateDir(f['state-dir']).root})).environment.database?.rdsInstance)
    return this.runRunbook('backup-restore', {...restoreFromParams(this.flags), target: this.flags.target})
  }
}
