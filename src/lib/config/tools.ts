import {delimiter} from 'node:path'
import type {Environment} from './schema.js'

/** The environment a step's child processes get: ours, plus the environment's tools (PATH first). */
export function childEnvFor(environment: Environment | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const tools = environment?.tools
  const env: NodeJS.ProcessEnv = {...process.env, ...extra, ...tools?.env}
  if (tools?.path.length) env.PATH = [...tools.path, env.PATH ?? ''].filter(Boolean).join(delimiter)
  return env
}
