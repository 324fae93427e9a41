/**
 * Load a YAML file and validate it against a zod schema, reporting every problem with the
 * file, the line and column, the dotted path inside the file, and what would be valid.
 */
import {readFileSync} from 'node:fs'
import {LineCounter, parseDocument, isNode, type Document} from 'yaml'
import type {z} from 'zod'
import {InvalidFileError, UsageError, type Problem} from '../errors.js'

export interface LoadedYaml<T> {
  file: string
  data: T
  source: string
}

export function readTextFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UsageError(`${what} ${file} does not exist.`, {code: 'FILE_NOT_FOUND'})
    if (code === 'EISDIR') throw new UsageError(`${what} ${file} is a directory, not a file.`, {code: 'FILE_NOT_FOUND'})
    throw new UsageError(`${what} ${file} cannot be read: ${(error as Error).message}`, {code: 'FILE_UNREADABLE'})
  }
}

/** Parse YAML text; syntax errors become problems with their position. */
export function parseYaml(file: string, source: string, what: string): {doc: Document; lines: LineCounter; value: unknown} {
  const lines = new LineCounter()
  const doc = parseDocument(source, {lineCounter: lines, merge: true, prettyErrors: false, uniqueKeys: true})
  if (doc.errors.length > 0) {
    throw new InvalidFileError(
      `${what} ${file}`,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0])
        return {file, path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}`}
      }),
    )
  }
  return {doc, lines, value: doc.toJS({maxAliasCount: 1000})}
}

/** Position of the node at `path` (or of its nearest existing parent). */
export function positionOf(doc: Document, lines: LineCounter, path: (string | number)[]): {line?: number; column?: number} {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0])
      return {line: pos.line, column: pos.col}
    }
  }
  return {}
}

export function dottedPath(path: PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${String(p)}` : String(p)
  }
  return out
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
  return `${typeof v} ${String(v)}`
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

export function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = o
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

/** Keys a strict object schema at `path` accepts, for "unknown field" messages. */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: any = schema
  for (const p of path) {
    s = unwrap(s)
    if (!s) return []
    const def = s._zod?.def
    if (def?.type === 'object') s = def.shape?.[p as string]
    else if (def?.type === 'array') s = def.element
    else if (def?.type === 'record') s = def.valueType
    else return []
  }
  s = unwrap(s)
  const def = s?._zod?.def
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : []
}

function unwrap(s: any): any {
  for (let i = 0; i < 10 && s; i++) {
    const def = s._zod?.def
    if (!def) return s
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)) s = def.innerType
    else if (def.type === 'pipe') s = def.in
    else if (def.type === 'lazy') s = def.getter()
    else return s
  }
  return s
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: any = root
  for (const p of path) {
    if (v === null || v === undefined) return undefined
    v = v[p as any]
  }
  return v
}

/** Turn zod issues into problems that say what was wrong and what would be valid. */
export function issuesToProblems(
  file: string,
  schema: z.ZodType,
  value: unknown,
  issues: z.core.$ZodIssue[],
  locate: (path: (string | number)[]) => {line?: number; column?: number},
  prefix: (string | number)[] = [],
): Problem[] {
  const out: Problem[] = []
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])]
    const got = valueAt(value, issue.path)
    const generated = /^(Invalid|Too (small|big)|Unrecognized|Expected)/.test(issue.message)
    let message: string
    if (issue.code === 'unrecognized_keys') {
      const keys = knownKeys(schema, issue.path)
      for (const key of issue.keys) {
        const hint = closest(key, keys)
        out.push({
          file,
          path: dottedPath([...path, key]),
          ...locate([...path, key]),
          message: `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; valid fields here: ${keys.join(', ')}`,
        })
      }
      continue
    } else if (!generated) {
      // A message written in the schema says what is valid; add what was found.
      message = got === undefined || issue.message.includes(' got ') ? issue.message : `${issue.message}, got ${describeValue(got)}`
    } else if (issue.code === 'invalid_type') {
      message = got === undefined ? `required field is missing (expected ${issue.expected})` : `expected ${issue.expected}, got ${describeValue(got)}`
    } else if (issue.code === 'invalid_value') {
      const hint = typeof got === 'string' ? closest(got, issue.values.map(String)) : undefined
      message = `${describeValue(got)} is not allowed; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`
    } else {
      message = got === undefined ? issue.message : `${issue.message}, got ${describeValue(got)}`
    }
    out.push({file, path: dottedPath(path), ...locate(path), message})
  }
  return out
}

/** Read, parse and validate a YAML file. */
export function loadYamlFile<S extends z.ZodType>(file: string, schema: S, what: string): LoadedYaml<z.output<S>> {
  const source = readTextFile(file, what)
  return parseAndValidate(file, source, schema, what)
}

export function parseAndValidate<S extends z.ZodType>(file: string, source: string, schema: S, what: string): LoadedYaml<z.output<S>> {
  const {doc, lines, value} = parseYaml(file, source, what)
  if (value === null || value === undefined) {
    throw new InvalidFileError(`${what} ${file}`, [{file, path: '', line: 1, column: 1, message: 'the file is empty'}])
  }
  const parsed = schema.safeParse(value, {reportInput: true})
  if (!parsed.success) {
    throw new InvalidFileError(
      `${what} ${file}`,
      issuesToProblems(file, schema, value, parsed.error.issues, (p) => positionOf(doc, lines, p)),
    )
  }
  return {file, data: parsed.data, source}
}
