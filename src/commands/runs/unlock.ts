import {Args, Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {UsageError} from '../../lib/errors.js'
import {recordUnlock} from '../../lib/engine/audit.js'
import {describeLock, holderIsGone, isExpired} from '../../lib/engine/lock.js'
import {lockBackendFor} from '../../lib/engine/lock-backends.js'
import {configFlag, stateDirFlag} from '../../lib/flags.js'
import {whoAmI} from '../../lib/engine/state.js'

export default class RunsUnlock extends OpsCommand<typeof RunsUnlock> {
  static override summary = "Break an environment's lock (when its run is dead)."
  static override description = `A run holds a lock on its environment, renewed while it lives. A run that died (kill -9, a lost laptop) leaves its lock behind until it expires; even then clipper-ops does not take it silently. Breaking a lock needs --force and is recorded, with your reason, in the audit trail. Then continue the dead run with "runs resume <id>", or start a new one.`

  static override examples = [
    {description: 'See who holds the lock (changes nothing)', command: '<%= config.bin %> runs unlock production'},
    {description: 'Break it', command: '<%= config.bin %> runs unlock production --force --reason "laptop of the previous on-call died mid-rollout"'},
  ]

  static override args = {env: Args.string({required: true, description: 'The environment (or lock scope) to unlock.'})}

  static override flags = {
    force: Flags.boolean({summary: 'Really break the lock.'}),
    reason: Flags.string({summary: 'Why; recorded in the audit trail.'}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<unknown> {
    const f = this.flags
    const dir = this.stateDir(f['state-dir'])
    const backend = await lockBackendFor(this.args.env, {config: f.config, stateDir: dir})
    const held = await backend.read(this.args.env)
    if (!held) {
      if (!this.jsonEnabled()) this.log(`${this.args.env} is not locked (${backend.where(this.args.env)}).`)
      return {scope: this.args.env, locked: false}
    }
    const dead = isExpired(held) || holderIsGone(held, whoAmI().host)
    if (!f.force) {
      // Without --force this only shows who holds the lock (and changes nothing).
      if (!this.jsonEnabled()) {
        this.log(`${this.args.env} is locked: ${describeLock(held)}.`)
        this.log(
          dead
            ? `The holder looks dead. Continue its run with: clipper-ops runs resume ${held.runId}, or break the lock: clipper-ops runs unlock ${this.args.env} --force --reason "<why>"`
            : `The holder looks alive: wait for it, or stop it. Breaking the lock of a live run is a last resort: clipper-ops runs unlock ${this.args.env} --force --reason "<why>"`,
        )
      }
      return {scope: this.args.env, locked: true, holder: held, holderLooksDead: dead}
    }
    if (!f.reason) throw new UsageError('--force needs --reason "<why>": breaking a lock is recorded in the audit trail.', {code: 'REASON_REQUIRED'})
    if (!(await backend.remove(held))) throw new UsageError(`The lock on ${this.args.env} changed while we looked; run the command again.`, {code: 'LOCK_CHANGED'})
    const store = await this.runStore({env: this.args.env, config: f.config, stateDir: dir})
    await recordUnlock(store, this.args.env, held, f.reason)
    if (!dead) {
      this.warn(
        `The holder of the lock on ${this.args.env} looked ALIVE (${describeLock(held)}). Its run stops before its next change, once it sees the lock is gone; check that it did (clipper-ops runs show ${held.runId}).`,
      )
    }
    if (!this.jsonEnabled()) {
      this.log(`Broke the lock on ${this.args.env} (${describeLock(held)}).`)
      this.log(`Recorded in ${store.shared ? `${store.where}/audit/` : dir.auditFile()}. Continue that run with: clipper-ops runs resume ${held.runId}`)
    }
    return {scope: this.args.env, locked: false, broken: held, reason: f.reason, holderLookedDead: dead}
  }
}
