/**
 * What the config schema cannot say alone: every rollout gate names a known gate kind, with
 * inputs that kind accepts. Checked by `config validate` and before a run's first step (exit 2),
 * so that a typo is found before traffic moves, not at the first bake.
 */
import type {Environment} from '../config/schema.js'
import {InvalidFileError, type Problem} from '../errors.js'
import {prepareGates} from '../steps/gates.js'
import {loadKind} from '../steps/registry.js'

export async function environmentProblems(file: string, name: string, environment: Environment): Promise<Problem[]> {
  const gates = environment.rollout?.gates ?? []
  if (gates.length === 0) return []
  const {problems} = await prepareGates(gates, environment.rollout.bake, loadKind)
  return problems.map((p) => ({file, path: `environments.${name}.rollout.gates[${p.index}]`, message: p.message}))
}

/** Refuse an environment whose gates cannot run (exit 2, nothing changed). */
export async function checkEnvironment(file: string, name: string, environment: Environment): Promise<void> {
  const problems = await environmentProblems(file, name, environment)
  if (problems.length) throw new InvalidFileError(`Config file ${file}`, problems)
}
