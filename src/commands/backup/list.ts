import {OpsCommand} from '../../lib/command.js'
import {envFlag, configFlag, stateDirFlag} from '../../lib/flags.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {backupInventory} from '../../lib/backup/inventory.js'
import {inventoryLines} from '../../lib/backup/inventory-format.js'

export default class BackupList extends OpsCommand<typeof BackupList> {
  static override summary = "Show what can be restored, newest first: the database's point-in-time window, its RDS snapshots and the backup vault's recovery points."
  static override description = `Reads RDS and AWS Backup (read-only calls only) for the environment's database.rdsInstance:

- the point-in-time restore (PITR) window: the latest restorable time (DescribeDBInstances; on AWS typically about 5 minutes behind now) and the earliest, from the automated backup's restore window, else the oldest automated snapshot, else the instance's creation time within its retention (the output says which);
- the instance's RDS snapshots: manual, automated and those AWS Backup made (snapshot type awsbackup);
- the recovery points of the instance in backup.vault, with their lifecycle (cold storage, deletion) when one is set. backup.vault is optional: without it, no recovery points are listed, and a note says so.

An AWS Backup snapshot of RDS and its recovery point in the vault are one backup seen from both services: both are listed, with the same ARN.

Exit codes: 0 listed, 1 AWS could not be read (e.g. no such instance), 2 bad flags or config (e.g. no database.rdsInstance).`

  static override examples = [
    '<%= config.bin %> backup list --env production',
    {description: 'The newest restorable point, as JSON', command: '<%= config.bin %> backup list --env sandbox --json | jq ".points | map(select(.restorable))[0]"'},
    {description: 'How far behind now point-in-time restore is', command: '<%= config.bin %> backup list --env sandbox --json | jq .pitr.lagSeconds'},
  ]

  static override flags = {env: envFlag, config: configFlag, 'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const {name, environment} = await loadEnvironment({env: this.flags.env, config: this.flags.config, stateRoot: this.stateDir(this.flags['state-dir']).root})
    const inv = await backupInventory(name, environment)
    if (!this.jsonEnabled()) {
      for (const l of inventoryLines(inv)) this.log(l)
    }
    return inv
  }
}
