/**
 * The checklists of the infrastructure record, in the order a person would go through them:
 * before a deployment (pre) and after it (post).
 */
import type {Environment} from '../config/schema.js'
import type {StepContext} from '../steps/types.js'
import {AWS_CHECKS} from './aws-checks.js'
import {runChecks, type Check, type CheckResult, type Phase} from './check.js'
import {KUBE_CHECKS} from './kube-checks.js'
import {PLATFORM_CHECKS} from './platform-checks.js'

const ALL: Check[] = [...AWS_CHECKS, ...KUBE_CHECKS, ...PLATFORM_CHECKS]

/** The checks of a phase that this environment's config gives something to check. */
export function checksFor(env: Environment, phase: Phase): Check[] {
  return ALL.filter((c) => c.phase === phase && c.applies(env))
}

export async function verify(ctx: StepContext, env: Environment, phase: Phase): Promise<CheckResult[]> {
  return runChecks(checksFor(env, phase), ctx, env)
}

export {countByStatus, type CheckResult, type Phase} from './check.js'
