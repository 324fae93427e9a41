/**
 * Load a YAML file and validate it against a zod schema, reporting every problem with the
 * file, the line and column, the dotted path inside the file, and what would be valid.
 */
import {LineCounter, parseDocument, isNode, type Document} from 'yaml'
import type {z} from 'zod'
import {InvalidFileError, type Problem} from '../errors.js'
import {closest} from './closest.js'

export interface LoadedYaml<T> {
  file: string
  data: T
  source: string
  /** Line and column of a path in the file, for problems found after the schema. */
  locate: (path: (string | number)[]) => {line?: number; column?: number}
}

/** Deeper than any config or runbook needs; deeper input would only exhaust the parser's stack. */
const MAX_DEPTH = 64

/** Parse YAML text; syntax errors become problems with their position. */
export function parseYaml(file: string, source: string, what: string): {doc: Document; lines: LineCounter; value: unknown} {
  const lines = new LineCounter()
  const refuse = (message: string): never => {
    throw new InvalidFileError(`${what} ${file}`, [{file, path: '', message}])
  }
  let doc: Document
  try {
    doc = parseDocument(source, {lineCounter: lines, merge: true, prettyErrors: false, uniqueKeys: true})
  } catch (error) {
    if (error instanceof RangeError) refuse(`nested too deeply to read (at most ${MAX_DEPTH} levels)`)
    throw error
  }
  if (doc.errors.length > 0) {
    throw new InvalidFileError(
      `${what} ${file}`,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0])
        const first = e.message.split('\n')[0]!
        const message = /call stack/i.test(first) ? `nested too deeply to read (at most ${MAX_DEPTH} levels)` : `YAML syntax: ${first}`
        return {file, path: '', line: pos.line, column: pos.col, message}
      }),
    )
  }
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 1000})
  } catch (error) {
    // yaml refuses aliases that expand exponentially ("billion laughs"); say so, not a stack trace.
    if (error instanceof ReferenceError && /alias/i.test(error.message)) refuse('its aliases (*name) expand to too much data (over 1000 alias uses): an alias bomb?')
    if (error instanceof RangeError) refuse(`nested too deeply to read (at most ${MAX_DEPTH} levels)`)
    throw error
  }
  if (depthOf(value) > MAX_DEPTH) refuse(`nested more than ${MAX_DEPTH} levels deep`)
  return {doc, lines, value}
}

/** How deep lists and mappings nest (without recursion: the input may be hostile). */
function depthOf(root: unknown): number {
  let max = 0
  const stack: [unknown, number][] = [[root, 0]]
  while (stack.length) {
    const [v, d] = stack.pop()!
    if (d > max) max = d
    if (d > MAX_DEPTH) return d
    if (v && typeof v === 'object') for (const c of Object.values(v)) stack.push([c, d + 1])
  }
  return max
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

const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi

/** A value as a message quotes it; passwords inside URLs are masked (messages reach logs). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null (an empty value)'
  if (typeof v === 'string') {
    const masked = v.replace(URL_PASSWORD_RE, '$1***$3')
    return JSON.stringify(masked.length > 60 ? `${masked.slice(0, 57)}...` : masked)
  }
  if (Array.isArray(v) || typeof v === 'object') {
    const json = JSON.stringify(v)
    const word = Array.isArray(v) ? 'a list' : 'a mapping'
    return json.length <= 60 && !URL_PASSWORD_RE.test(json) ? `${word} ${json}` : word
  }
  return `${typeof v} ${String(v)}`
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  literal: 'a fixed value',
}

function typeWord(t: string): string {
  return TYPE_WORDS[t] ?? t
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
    const got = 'input' in issue ? (issue as {input?: unknown}).input : valueAt(value, issue.path)
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
    } else if (issue.code === 'invalid_key') {
      // A bad key of a mapping (an environment name, a parameter name): say what keys may be.
      const inner = issue.issues[0]
      const what = inner && !/^(Invalid|Too|Expected)/.test(inner.message) ? inner.message : 'not a valid name here'
      message = `${what}, got the name ${JSON.stringify(String(issue.path.at(-1) ?? got))}`
    } else if (!generated) {
      // A message written in the schema says what is valid; add what was found.
      message = got === undefined ? `required field is missing: ${issue.message}` : issue.message.includes(' got ') ? issue.message : `${issue.message}, got ${describeValue(got)}`
    } else if (issue.code === 'invalid_type') {
      message = got === undefined ? `required field is missing (expected ${typeWord(issue.expected)})` : `expected ${typeWord(issue.expected)}, got ${describeValue(got)}`
    } else if (issue.code === 'invalid_value') {
      const hint = typeof got === 'string' ? closest(got, issue.values.map(String)) : undefined
      message = `${describeValue(got)} is not allowed; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`
    } else if (issue.code === 'too_small' || issue.code === 'too_big') {
      const bound = issue.code === 'too_small' ? `at least ${String((issue as {minimum: unknown}).minimum)}` : `at most ${String((issue as {maximum: unknown}).maximum)}`
      const unit = issue.origin === 'array' ? ' item(s)' : issue.origin === 'string' ? ' character(s)' : ''
      message = `expected ${bound}${unit}, got ${describeValue(got)}`
    } else {
      message = got === undefined ? issue.message : `${issue.message}, got ${describeValue(got)}`
    }
    out.push({file, path: dottedPath(path), ...locate(path), message})
  }
  return out
}

/** Read, parse and validate a YAML file. */
export function parseAndValidate<S extends z.ZodType>(file: string, source: string, schema: S, what: string): LoadedYaml<z.output<S>> {
  const {doc, lines, value} = parseYaml(file, source, what)
  if (value === null || value === undefined) {
    throw new InvalidFileError(`${what} ${file}`, [{file, path: '', line: 1, column: 1, message: 'the file is empty'}])
  }
  const locate = (p: (string | number)[]) => positionOf(doc, lines, p)
  const parsed = schema.safeParse(value, {reportInput: true})
  if (!parsed.success) throw new InvalidFileError(`${what} ${file}`, issuesToProblems(file, schema, value, parsed.error.issues, locate))
  return {file, data: parsed.data, source, locate}
}
