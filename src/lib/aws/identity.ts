/**
 * Who is acting, as AWS knows it: the caller identity of the environment's credentials, for the
 * audit trail. Credentials for another account than the environment's are refused before
 * anything is read or changed.
 */
import type {Environment} from '../config/schema.js'
import type {Who} from '../engine/state.js'
import {RunFailedError, UsageError} from '../errors.js'
import {awsErrorName, callerIdentity, credentialSource} from './clients.js'

/**
 * `who` with the caller's ARN added. When the run needs AWS (`required`), credentials that
 * cannot be resolved stop it here, with how to fix them; otherwise they are only not recorded.
 */
export async function identify(who: Who, env: {name: string; environment: Environment}, required: boolean): Promise<Who> {
  try {
    const id = await callerIdentity(env.environment)
    if (!id) return who
    const want = env.environment.aws?.accountId
    if (want && id.account !== want) {
      throw new UsageError(`Your AWS credentials are for account ${id.account} (${id.arn}), but environment ${env.name} is in account ${want}. Nothing was read or changed.`, {
        code: 'WRONG_ACCOUNT',
      })
    }
    return {...who, aws: id.arn}
  } catch (error) {
    if (error instanceof UsageError) throw error
    if (!required) return who
    const profile = env.environment.aws?.profile
    const fix = profile
      ? `Log in for it (aws sso login --profile ${profile}) or check its entry in ~/.aws/config and ~/.aws/credentials`
      : 'Set AWS_PROFILE to a profile of ~/.aws/config (and aws sso login), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the environment aws.profile in clipper-ops.yaml'
    throw new RunFailedError(
      `Could not tell who you are in AWS for ${env.name}: ${awsErrorName(error)}: ${(error as Error).message}. Credentials were looked for in ${credentialSource(env.environment)}. ${fix}. Nothing was changed.`,
      {code: 'NO_CREDENTIALS'},
    )
  }
}
