/**
 * `rds-delete`: delete an instance a restore made — deletion protection off, no final snapshot,
 * and wait until it is gone. Only instances tagged as made by clipper-ops (any run: a drill's
 * cleanup also sweeps what a killed run left), and never the environment's live instance.
 */
import {z} from 'zod'
import {awsClient} from '../aws/clients.js'
import {duration} from '../config/schema.js'
import {RunFailedError} from '../errors.js'
import {parseDuration} from '../util/duration.js'
import {deleteInstance, describeInstance, inRegion, OWNER_TAG, tagsOf} from '../rds/restore.js'
import {defineStep, type StepContext} from './types.js'

const inputs = z.strictObject({
  instance: z.string().min(1, {error: 'expected the DB instance identifier to delete'}),
  /** Another region than the environment's (a restore in the secondary region of dr.region). */
  region: z.string().min(1).optional(),
  timeout: duration('a timeout').default('30m'),
})
type Inputs = z.output<typeof inputs>

/** The instance, if it exists and may be deleted by us; refuses the live one and anything untagged. */
async function deletable(ctx: StepContext, i: Inputs) {
  if (i.instance === ctx.environment?.database?.rdsInstance)
    throw new RunFailedError(`${i.instance} is the environment's live database; clipper-ops never deletes it.`, {code: 'DELETE_LIVE'})
  const db = await describeInstance(await awsClient('rds', inRegion(ctx.environment!, i.region)), i.instance, ctx.signal)
  if (db && !tagsOf(db)[OWNER_TAG]) throw new RunFailedError(`${i.instance} was not made by clipper-ops (no ${OWNER_TAG} tag); it is not deleted.`, {code: 'DELETE_FOREIGN'})
  return db
}

export default defineStep({
  kind: 'rds-delete',
  description: 'Delete an instance a restore made (never the live one): no final snapshot, deletion protection off, wait until gone',
  needs: ['aws'],
  inputs,
  mutates: () => true,
  title: (i) => `Delete ${i.instance}`,

  async plan(ctx, i) {
    const db = await deletable(ctx, i)
    return {
      summary: db ? `would delete ${i.instance} (made by run ${tagsOf(db)[OWNER_TAG]})` : `${i.instance} does not exist (yet): deleted once made`,
      changes: [{action: 'delete', target: `RDS instance ${i.instance}`, detail: 'SkipFinalSnapshot, DeleteAutomatedBackups'}],
      estimateMs: 5 * 60_000,
      worstCaseMs: parseDuration(i.timeout),
    }
  },

  async run(ctx, i) {
    await deletable(ctx, i)
    const started = Date.now()
    const r = await deleteInstance(inRegion(ctx.environment!, i.region), i.instance, {timeoutMs: parseDuration(i.timeout)!, capMs: 10_000, signal: ctx.signal, log: ctx.log})
    return {
      summary: r === 'absent' ? `${i.instance} was already gone` : `${i.instance} deleted`,
      outputs: {instance: i.instance, result: r, deletedAt: new Date().toISOString(), durationMs: Date.now() - started},
      changes: r === 'deleted' ? [{action: 'delete', target: `RDS instance ${i.instance}`}] : [],
    }
  },

  // Deleting is idempotent: run again reads the instance first.
  async reconcile() {
    return {done: false}
  },
})
