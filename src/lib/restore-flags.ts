/** The flags that say what a restore starts from: exactly one of them (--latest by default). */
import {Flags} from '@oclif/core'
import {UsageError} from './errors.js'

const FROM = ['latest', 'point-in-time', 'snapshot', 'recovery-point'] as const

export const restoreFromFlags = {
  latest: Flags.boolean({summary: 'Restore the latest restorable time (read first, and passed explicitly).', exclusive: ['point-in-time', 'snapshot', 'recovery-point']}),
  'point-in-time': Flags.string({summary: 'Restore to this time (ISO 8601, e.g. 2026-12-01T03:04:05Z), inside the PITR window.', exclusive: ['snapshot', 'recovery-point']}),
  snapshot: Flags.string({summary: 'Restore from this RDS snapshot (manual, automated or AWS Backup).', exclusive: ['recovery-point']}),
  'recovery-point': Flags.string({summary: 'Restore from this AWS Backup recovery point (its ARN), through AWS Backup.'}),
}

/** The runbook parameters for the chosen source. */
export function restoreFromParams(f: {latest?: boolean; 'point-in-time'?: string; snapshot?: string; 'recovery-point'?: string}): Record<string, string> {
  if (f['point-in-time'] !== undefined) {
    if (Number.isNaN(Date.parse(f['point-in-time'])))
      throw new UsageError(`--point-in-time ${f['point-in-time']}: not a time; expected ISO 8601, e.g. 2026-12-01T03:04:05Z.`, {code: 'BAD_FLAG'})
    return {from: 'point-in-time', time: new Date(f['point-in-time']).toISOString()}
  }
  if (f.snapshot !== undefined) return {from: 'snapshot', snapshot: f.snapshot}
  if (f['recovery-point'] !== undefined) return {from: 'recovery-point', recoveryPoint: f['recovery-point']}
  return {from: FROM[0]}
}

/** --target may never name the live instance: checked before anything runs (exit 2). */
export function refuseLiveTarget(target: string | undefined, live: string | undefined): void {
  if (target && live && target === live) {
    throw new UsageError(`--target ${target} is the live instance (database.rdsInstance): a restore always makes a new instance; promoting one is a separate runbook.`, {
      code: 'TARGET_IS_LIVE',
    })
  }
}
