/**
 * Loading a runbook: YAML → schema → static checks that need no live state: step kinds exist,
 * inputs fit each kind (where they are not expressions), ids are unique, expressions parse and
 * read only declared parameters and earlier steps.
 */
import {createHash} from 'node:crypto'
import {existsSync, readdirSync} from 'node:fs'
import {basename, join, resolve} from 'node:path'
import {InvalidFileError, UsageError, errorMessage, type Problem} from '../errors.js'
import {isKnownKind, knownKinds, loadKind} from '../steps/registry.js'
import {builtinRunbooksDir} from '../util/paths.js'
import {closest} from '../util/closest.js'
import {readTextFile} from '../util/text-file.js'
import {dottedPath, issuesToProblems, parseYaml, positionOf} from '../util/yaml-file.js'
import {parseDuration} from '../util/duration.js'
import {ExpressionError, evaluateTemplate, hasExpression, parseExpression, referencedPaths} from './expressions.js'
import {runbookSchema, type Runbook, type StepSpec} from './schema.js'

export interface LoadedRunbook {
  file: string
  source: string
  sha256: string
  runbook: Runbook
  builtin: boolean
}

const CONTEXT_ROOTS = ['params', 'env', 'envName', 'steps', 'run', 'secrets']

/** A runbook by path, or a built-in one by name (cutover, rollback, demo, …). */
export function resolveRunbookRef(ref: string): {file: string; builtin: boolean} {
  if (existsSync(ref) || ref.includes('/') || ref.endsWith('.yaml') || ref.endsWith('.yml')) return {file: resolve(ref), builtin: false}
  const file = join(builtinRunbooksDir(), `${ref}.yaml`)
  if (existsSync(file)) return {file, builtin: true}
  const names = listBuiltinRunbooks()
  const hint = closest(ref, names)
  throw new UsageError(`No runbook file "${ref}" and no built-in runbook of that name${hint ? ` (did you mean "${hint}"?)` : ''}; built-in: ${names.join(', ')}.`, {
    code: 'FILE_NOT_FOUND',
  })
}

export function listBuiltinRunbooks(): string[] {
  const dir = builtinRunbooksDir()
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort()
}

export async function loadRunbook(ref: string): Promise<LoadedRunbook> {
  const {file, builtin} = resolveRunbookRef(ref)
  const source = readTextFile(file, 'Runbook')
  return parseRunbook(file, source, builtin)
}

export async function parseRunbook(file: string, source: string, builtin = false): Promise<LoadedRunbook> {
  const {doc, lines, value} = parseYaml(file, source, 'Runbook')
  const locate = (p: (string | number)[]) => positionOf(doc, lines, p)
  if (value === null || value === undefined) throw new InvalidFileError(`Runbook ${file}`, [{file, path: '', line: 1, message: 'the file is empty'}])
  const parsed = runbookSchema.safeParse(value, {reportInput: true})
  if (!parsed.success) throw new InvalidFileError(`Runbook ${file}`, issuesToProblems(file, runbookSchema, value, parsed.error.issues, locate))
  const runbook = parsed.data
  const problems = await checkRunbook(file, runbook, value, locate)
  if (problems.length > 0) throw new InvalidFileError(`Runbook ${file}`, problems)
  return {file, source, sha256: createHash('sha256').update(source).digest('hex'), runbook, builtin}
}

async function checkRunbook(file: string, rb: Runbook, raw: unknown, locate: (p: (string | number)[]) => {line?: number; column?: number}): Promise<Problem[]> {
  const problems: Problem[] = []
  const add = (path: (string | number)[], message: string) => problems.push({file, path: dottedPath(path), ...locate(path), message})
  const params = Object.keys(rb.parameters)
  const seen = new Map<string, string>()

  for (const [name, p] of Object.entries(rb.parameters)) {
    if (hasExpression(p.default)) {
      // A default taken from the environment's config (e.g. ${{ env.rollout.steps }}) is bound
      // before the run starts, so that the run records the value it used.
      try {
        const roots = referencedPaths(p.default).map((r) => r.root)
        const bad = roots.find((r) => r !== 'env' && r !== 'envName')
        if (bad) add(['parameters', name, 'default'], `a default can read env and envName only (it is bound before the run starts), not "${bad}"`)
      } catch (error) {
        add(['parameters', name, 'default'], `bad expression: ${errorMessage(error)}`)
      }
    } else if (p.default !== undefined) {
      const err = checkParamValue(p.type, p.default)
      if (err) add(['parameters', name, 'default'], err)
      if (p.enum && !p.enum.includes(p.default as never)) add(['parameters', name, 'default'], `must be one of ${p.enum.join(', ')}`)
    }
  }

  if (rb.deadline !== undefined) {
    if (hasExpression(rb.deadline)) checkExpressions(['deadline'], rb.deadline, [], [])
    else if (parseDuration(rb.deadline) === undefined) add(['deadline'], `expected a duration such as 30m, or an expression, got "${rb.deadline}"`)
  }
  if (rb.undo) checkExpressions(['undo'], rb.undo, [], [])

  /** Check every expression under `value`, naming the exact field (steps[2].with.args[0]). */
  function checkExpressions(path: (string | number)[], value: unknown, earlier: string[], locals: string[], bareCondition = false): void {
    if (Array.isArray(value)) return value.forEach((v, i) => checkExpressions([...path, i], v, earlier, locals))
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) checkExpressions([...path, k], v, earlier, locals)
      return
    }
    if (typeof value !== 'string') return
    let refs: ReturnType<typeof referencedPaths>
    try {
      refs = bareCondition && !hasExpression(value) ? referencedPaths(`\${{ ${value} }}`) : referencedPaths(value)
    } catch (error) {
      if (error instanceof ExpressionError) {
        add(path, `bad expression: ${error.message}`)
        return
      }
      throw error
    }
    for (const r of refs) {
      if (locals.includes(r.root)) continue
      if (!CONTEXT_ROOTS.includes(r.root)) {
        add(path, `expression reads "${r.root}", which is not known here; expressions can read ${[...CONTEXT_ROOTS, ...locals].join(', ')}`)
      } else if (r.root === 'params' && r.first && !params.includes(r.first)) {
        const hint = closest(r.first, params)
        add(
          path,
          `expression reads params.${r.first}, which the runbook does not declare${hint ? ` (did you mean params.${hint}?)` : ''}; declared: ${params.join(', ') || '(none)'}`,
        )
      } else if (r.root === 'steps' && r.first && !earlier.includes(r.first)) {
        add(path, `expression reads steps.${r.first}, which is not a step that runs before this one${earlier.length ? `; earlier steps: ${earlier.join(', ')}` : ''}`)
      } else if (r.root === 'steps' && r.first && r.second && r.second !== 'outputs' && r.second !== 'status') {
        add(path, `expression reads steps.${r.first}.${r.second}; a step has "outputs" and "status"`)
      }
    }
  }

  async function checkSteps(list: StepSpec[], base: (string | number)[], earlier: string[], locals: string[]): Promise<string[]> {
    const before = [...earlier]
    for (const [i, step] of list.entries()) {
      const path = [...base, i]
      const first = seen.get(step.id)
      if (first) add([...path, 'id'], `duplicate step id "${step.id}" (first used at ${first}); step ids must be unique in a runbook`)
      else seen.set(step.id, dottedPath(path))
      const ownLocals = step.forEach !== undefined ? [...locals, step.as ?? 'item', 'index'] : locals
      if (step.name) checkExpressions([...path, 'name'], step.name, before, ownLocals)
      if (step.if !== undefined && typeof step.if === 'string') checkExpressions([...path, 'if'], step.if, before, locals, true)
      if (step.ifSkipped !== undefined) {
        if (step.if === undefined) add([...path, 'ifSkipped'], 'ifSkipped says why a step with an "if" was skipped; this step has no "if"')
        checkExpressions([...path, 'ifSkipped'], step.ifSkipped, before, ownLocals)
      }
      if (step.forEach !== undefined) {
        // Groups expand one level (a run's steps are a flat list of records); a nested one would
        // pass here and fail at run time, so it is refused here.
        if (locals.includes('index')) add([...path, 'forEach'], 'a group inside a group is not supported; put the inner steps in the outer group, or split the runbook')
        checkExpressions([...path, 'forEach'], step.forEach, before, locals)
        if (!hasExpression(step.forEach) && !Array.isArray(step.forEach)) add([...path, 'forEach'], 'expected a list or an expression that gives one')
        const inner = await checkSteps(step.steps ?? [], [...path, 'steps'], before, [...locals, step.as ?? 'item', 'index'])
        before.push(step.id, ...inner)
        continue
      }
      const kindName = step.uses!
      if (!isKnownKind(kindName)) {
        const hint = closest(kindName, knownKinds())
        add([...path, 'uses'], `unknown step kind "${kindName}"${hint ? ` (did you mean "${hint}"?)` : ''}; known kinds: ${knownKinds().join(', ')}`)
      } else {
        const kind = await loadKind(kindName)
        checkExpressions([...path, 'with'], step.with ?? {}, before, locals)
        const rawWith = (valueAt(raw, path) as {with?: unknown} | undefined)?.with ?? {}
        const result = kind.inputs.safeParse(rawWith, {reportInput: true})
        if (!result.success) {
          // Inputs that are expressions are only known at run time; judge the rest now.
          const issues = result.error.issues.filter((iss) => !pathCrossesExpression(rawWith, iss.path as (string | number)[]))
          problems.push(...issuesToProblems(file, kind.inputs, rawWith, issues, locate, [...path, 'with']))
        }
      }
      if (Array.isArray(step.onFailure)) {
        await checkSteps(step.onFailure, [...path, 'onFailure'], [...before, step.id], [...locals, 'failed'])
      }
      before.push(step.id)
    }
    return before.slice(earlier.length)
  }

  const all = await checkSteps(rb.steps, ['steps'], [], [])
  // Compensating steps can read the failed step (failed.id, failed.title, failed.error) and,
  // when it was in a group, that group's item.
  const groupLocals = rb.steps.filter((s) => s.forEach !== undefined).flatMap((s) => [s.as ?? 'item', 'index'])
  if (rb.onFailure) await checkSteps(rb.onFailure, ['onFailure'], all, ['failed', ...new Set(groupLocals)])
  return problems
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v: any = root
  for (const p of path) v = v?.[p]
  return v
}

function pathCrossesExpression(root: unknown, path: (string | number)[]): boolean {
  let v: any = root
  if (hasExpression(v)) return true
  for (const p of path) {
    v = v?.[p]
    if (hasExpression(v)) return true
  }
  return false
}

export function checkParamValue(type: string, v: unknown): string | undefined {
  if (typeof v === 'string' && hasExpression(v)) {
    try {
      parseExpression(v.replace(/^\s*\$\{\{|\}\}\s*$/g, ''))
    } catch {
      /* checked at run time */
    }
    return undefined
  }
  switch (type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `expected a number, got ${JSON.stringify(v)}`
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `expected true or false, got ${JSON.stringify(v)}`
    case 'list':
      return Array.isArray(v) ? undefined : `expected a list, got ${JSON.stringify(v)}`
    case 'duration':
      return (typeof v === 'string' || typeof v === 'number') && parseDuration(v) !== undefined ? undefined : `expected a duration such as 30s or 5m, got ${JSON.stringify(v)}`
    default:
      return typeof v === 'string' || typeof v === 'number' ? undefined : `expected a string, got ${JSON.stringify(v)}`
  }
}

/** Turn --param key=value strings into typed parameter values, with errors that name the flag. */
export function bindParameters(rb: Runbook, given: Record<string, string | unknown>, flagName = '--param', env?: {name: string; environment: unknown}): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const declared = Object.keys(rb.parameters)
  for (const key of Object.keys(given)) {
    if (!declared.includes(key)) {
      const hint = closest(key, declared)
      throw new UsageError(
        `${flagName} ${key}: runbook "${rb.name}" has no parameter "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; its parameters: ${declared.join(', ') || '(none)'}.`,
        {code: 'UNKNOWN_PARAM'},
      )
    }
  }
  for (const [name, spec] of Object.entries(rb.parameters)) {
    const raw = given[name]
    if (raw === undefined) {
      if (hasExpression(spec.default)) out[name] = defaultFromEnvironment(rb, name, spec.type, spec.default, env)
      else if (spec.default !== undefined) out[name] = spec.default
      else if (spec.required)
        throw new UsageError(`Runbook "${rb.name}" needs ${flagName} ${name}=<${spec.type}>${spec.description ? ` (${spec.description})` : ''}.`, {code: 'MISSING_PARAM'})
      continue
    }
    const value = typeof raw === 'string' ? coerce(spec.type, raw) : raw
    const err = value === undefined ? `expected a ${spec.type}` : checkParamValue(spec.type, value)
    if (err) throw new UsageError(`${flagName} ${name}=${String(raw)}: ${err}.`, {code: 'BAD_PARAM'})
    if (spec.enum && !spec.enum.map(String).includes(String(value))) {
      throw new UsageError(`${flagName} ${name}=${String(raw)}: expected one of ${spec.enum.join(', ')}.`, {code: 'BAD_PARAM'})
    }
    out[name] = value
  }
  return out
}

/** A parameter's default read from the environment's config, checked like a given value. */
function defaultFromEnvironment(rb: Runbook, name: string, type: string, expr: string, env: {name: string; environment: unknown} | undefined): unknown {
  if (!env) throw new UsageError(`Runbook "${rb.name}": parameter ${name} defaults to ${expr}, which needs an environment; pass --env.`, {code: 'MISSING_PARAM'})
  let value: unknown
  try {
    value = evaluateTemplate(expr, {env: env.environment, envName: env.name})
  } catch (error) {
    throw new UsageError(`Runbook "${rb.name}": the default of parameter ${name} (${expr}) cannot be read from environment ${env.name}: ${errorMessage(error)}.`, {
      code: 'BAD_PARAM',
    })
  }
  const err = value === undefined || value === null ? `it is not set` : checkParamValue(type, value)
  if (err) throw new UsageError(`Runbook "${rb.name}": the default of parameter ${name} (${expr}) in environment ${env.name}: ${err}.`, {code: 'BAD_PARAM'})
  return value
}

function coerce(type: string, raw: string): unknown {
  switch (type) {
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : undefined
    case 'boolean':
      return ['true', 'yes', '1'].includes(raw) ? true : ['false', 'no', '0'].includes(raw) ? false : undefined
    case 'list':
      return raw.trim() === '' ? [] : raw.split(',').map((s) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s.trim()))
    default:
      return raw
  }
}
