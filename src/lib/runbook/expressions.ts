/**
 * `${{ … }}` expressions in runbooks, in the spirit of GitHub Actions: paths into contexts
 * (params, env, envName, steps, item, run, secrets), literals, comparisons, && || !, + - * /,
 * and a few functions. No code is ever evaluated; this is a small parser and interpreter.
 */

export class ExpressionError extends Error {}

type Node =
  | {t: 'lit'; v: unknown}
  | {t: 'path'; root: string; parts: (string | Node)[]}
  | {t: 'un'; op: '!' | '-'; a: Node}
  | {t: 'bin'; op: string; a: Node; b: Node}
  | {t: 'call'; fn: string; args: Node[]}
  | {t: 'index'; obj: Node; key: Node | string}

const TOKEN_RE = /\s*(?:(\d+(?:\.\d+)?)|('(?:[^']|'')*')|("(?:[^"\\]|\\.)*")|(==|!=|<=|>=|&&|\|\||[<>!+\-*/().,[\]])|([A-Za-z_][A-Za-z0-9_-]*))/y

interface Tok {
  kind: 'num' | 'str' | 'op' | 'id'
  v: string
  pos: number
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  TOKEN_RE.lastIndex = 0
  let pos = 0
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break
    TOKEN_RE.lastIndex = pos
    const m = TOKEN_RE.exec(src)
    if (!m) throw new ExpressionError(`unexpected character "${src.slice(pos).trim()[0]}" at position ${pos + 1}`)
    pos = TOKEN_RE.lastIndex
    if (m[1] !== undefined) out.push({kind: 'num', v: m[1], pos})
    else if (m[2] !== undefined) out.push({kind: 'str', v: m[2].slice(1, -1).replaceAll("''", "'"), pos})
    else if (m[3] !== undefined) out.push({kind: 'str', v: JSON.parse(m[3]) as string, pos})
    else if (m[4] !== undefined) out.push({kind: 'op', v: m[4], pos})
    else out.push({kind: 'id', v: m[5]!, pos})
  }
  return out
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  contains: (hay, needle) => (Array.isArray(hay) ? hay.includes(needle) : String(hay ?? '').includes(String(needle))),
  join: (list, sep) => (Array.isArray(list) ? list.join(sep === undefined ? ',' : String(sep)) : String(list ?? '')),
  split: (s, sep) =>
    String(s ?? '')
      .split(sep === undefined ? ',' : String(sep))
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  toNumber: (v) => Number(v),
  toJSON: (v) => JSON.stringify(v),
  length: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  min: (...v) => Math.min(...v.map(Number)),
  max: (...v) => Math.max(...v.map(Number)),
  coalesce: (...v) => v.find((x) => x !== undefined && x !== null && x !== ''),
  /** One field of each object in a list: pluck(env.helm.releases, 'name'). */
  pluck: (list, key) => (Array.isArray(list) ? list.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[String(key)] : undefined)) : []),
  startsWith: (s, p) => String(s ?? '').startsWith(String(p)),
  endsWith: (s, p) => String(s ?? '').endsWith(String(p)),
}

class Parser {
  private i = 0
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  parse(): Node {
    const n = this.or()
    if (this.i < this.toks.length) throw new ExpressionError(`unexpected "${this.toks[this.i]!.v}" in "${this.src}"`)
    return n
  }

  private peek(v?: string): Tok | undefined {
    const t = this.toks[this.i]
    if (v === undefined) return t
    return t && t.kind === 'op' && t.v === v ? t : undefined
  }

  private eat(v: string): void {
    if (!this.peek(v)) throw new ExpressionError(`expected "${v}" in "${this.src}"`)
    this.i++
  }

  private or(): Node {
    let a = this.and()
    while (this.peek('||')) {
      this.i++
      a = {t: 'bin', op: '||', a, b: this.and()}
    }
    return a
  }

  private and(): Node {
    let a = this.cmp()
    while (this.peek('&&')) {
      this.i++
      a = {t: 'bin', op: '&&', a, b: this.cmp()}
    }
    return a
  }

  private cmp(): Node {
    const a = this.add()
    for (const op of ['==', '!=', '<=', '>=', '<', '>']) {
      if (this.peek(op)) {
        this.i++
        return {t: 'bin', op, a, b: this.add()}
      }
    }
    return a
  }

  private add(): Node {
    let a = this.mul()
    for (;;) {
      const op = this.peek('+') ?? this.peek('-')
      if (!op) return a
      this.i++
      a = {t: 'bin', op: op.v, a, b: this.mul()}
    }
  }

  private mul(): Node {
    let a = this.unary()
    for (;;) {
      const op = this.peek('*') ?? this.peek('/')
      if (!op) return a
      this.i++
      a = {t: 'bin', op: op.v, a, b: this.unary()}
    }
  }

  private unary(): Node {
    if (this.peek('!')) {
      this.i++
      return {t: 'un', op: '!', a: this.unary()}
    }
    if (this.peek('-')) {
      this.i++
      return {t: 'un', op: '-', a: this.unary()}
    }
    return this.postfix(this.primary())
  }

  /** `(expr)[i]`, `f(x).name`: indexing and member access after any primary. */
  private postfix(n: Node): Node {
    for (;;) {
      if (this.peek('[')) {
        this.i++
        const key = this.or()
        this.eat(']')
        n = {t: 'index', obj: n, key}
      } else if (this.peek('.') && n.t !== 'path') {
        this.i++
        const id = this.toks[this.i]
        if (!id || (id.kind !== 'id' && id.kind !== 'num')) throw new ExpressionError(`expected a name after "." in "${this.src}"`)
        this.i++
        n = {t: 'index', obj: n, key: id.v}
      } else return n
    }
  }

  private primary(): Node {
    const t = this.toks[this.i]
    if (!t) throw new ExpressionError(`unexpected end of "${this.src}"`)
    this.i++
    if (t.kind === 'num') return {t: 'lit', v: Number(t.v)}
    if (t.kind === 'str') return {t: 'lit', v: t.v}
    if (t.kind === 'op' && t.v === '(') {
      const n = this.or()
      this.eat(')')
      return n
    }
    if (t.kind === 'op' && t.v === '[') {
      const items: Node[] = []
      while (!this.peek(']')) {
        items.push(this.or())
        if (!this.peek(']')) this.eat(',')
      }
      this.eat(']')
      return {t: 'call', fn: '__list', args: items}
    }
    if (t.kind === 'id') {
      if (t.v === 'true') return {t: 'lit', v: true}
      if (t.v === 'false') return {t: 'lit', v: false}
      if (t.v === 'null') return {t: 'lit', v: null}
      if (this.peek('(')) {
        if (!Object.hasOwn(FUNCTIONS, t.v)) throw new ExpressionError(`unknown function ${t.v}(); known: ${Object.keys(FUNCTIONS).join(', ')}`)
        this.i++
        const args: Node[] = []
        while (!this.peek(')')) {
          args.push(this.or())
          if (!this.peek(')')) this.eat(',')
        }
        this.eat(')')
        return {t: 'call', fn: t.v, args}
      }
      const parts: (string | Node)[] = []
      for (;;) {
        if (this.peek('.')) {
          this.i++
          const id = this.toks[this.i]
          if (!id || (id.kind !== 'id' && id.kind !== 'num')) throw new ExpressionError(`expected a name after "." in "${this.src}"`)
          this.i++
          parts.push(id.v)
        } else if (this.peek('[')) {
          this.i++
          parts.push(this.or())
          this.eat(']')
        } else break
      }
      return {t: 'path', root: t.v, parts}
    }
    throw new ExpressionError(`unexpected "${t.v}" in "${this.src}"`)
  }
}

const cache = new Map<string, Node>()

export function parseExpression(src: string): Node {
  let n = cache.get(src)
  if (!n) {
    n = new Parser(tokenize(src), src).parse()
    cache.set(src, n)
  }
  return n
}

export type Contexts = Record<string, unknown>

/** Thrown when an expression reads something that is not known yet (e.g. a step output during a dry run). */
export class UnknownValueError extends Error {}

export const UNKNOWN: unique symbol = Symbol('unknown')

function evaluate(n: Node, ctx: Contexts): unknown {
  switch (n.t) {
    case 'lit':
      return n.v
    case 'path': {
      if (!Object.hasOwn(ctx, n.root)) throw new ExpressionError(`unknown name "${n.root}"; expressions can read ${Object.keys(ctx).join(', ')}`)
      let v: any = ctx[n.root]
      for (const p of n.parts) {
        if (v === UNKNOWN) break
        const key = typeof p === 'string' ? p : evaluate(p, ctx)
        if (v === null || v === undefined) return undefined
        // Only a value's own members: never __proto__, constructor or toString from its prototype.
        if (!Object.hasOwn(Object(v), key as PropertyKey)) return undefined
        v = v[key as any]
      }
      if (v === UNKNOWN) throw new UnknownValueError(`${n.root}${n.parts.map((p) => (typeof p === 'string' ? `.${p}` : '[…]')).join('')} is not known before the run`)
      return v
    }
    case 'un': {
      const a = evaluate(n.a, ctx)
      return n.op === '!' ? !a : -Number(a)
    }
    case 'bin': {
      if (n.op === '&&') {
        const a = evaluate(n.a, ctx)
        return a ? evaluate(n.b, ctx) : a
      }
      if (n.op === '||') {
        const a = evaluate(n.a, ctx)
        return a ? a : evaluate(n.b, ctx)
      }
      const a = evaluate(n.a, ctx)
      const b = evaluate(n.b, ctx)
      switch (n.op) {
        case '==':
          return looseEqual(a, b)
        case '!=':
          return !looseEqual(a, b)
        case '<':
          return (a as number) < (b as number)
        case '>':
          return (a as number) > (b as number)
        case '<=':
          return (a as number) <= (b as number)
        case '>=':
          return (a as number) >= (b as number)
        case '+':
          return typeof a === 'number' && typeof b === 'number' ? a + b : `${a ?? ''}${b ?? ''}`
        case '-':
          return Number(a) - Number(b)
        case '*':
          return Number(a) * Number(b)
        case '/':
          return Number(a) / Number(b)
      }
      throw new ExpressionError(`unknown operator ${n.op}`)
    }
    case 'index': {
      const obj = evaluate(n.obj, ctx) as any
      const key = typeof n.key === 'string' ? n.key : evaluate(n.key, ctx)
      return obj === null || obj === undefined ? undefined : obj[key as any]
    }
    case 'call': {
      const args = n.args.map((a) => evaluate(a, ctx))
      if (n.fn === '__list') return args
      return FUNCTIONS[n.fn]!(...args)
    }
  }
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'string') return a === Number(b)
  if (typeof b === 'number' && typeof a === 'string') return b === Number(a)
  return a === b
}

const TEMPLATE_RE = /\$\{\{([\s\S]*?)\}\}/g
const WHOLE_RE = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/

export function hasExpression(s: unknown): s is string {
  return typeof s === 'string' && s.includes('${{')
}

/** A string that is exactly one expression yields its typed value; otherwise interpolation into text. */
export function evaluateTemplate(s: string, ctx: Contexts): unknown {
  if (s.split('${{').length - 1 > [...s.matchAll(TEMPLATE_RE)].length) throw new ExpressionError(`"\${{" without its closing "}}" in ${JSON.stringify(s)}`)
  const whole = WHOLE_RE.exec(s)
  if (whole && !whole[1]!.includes('}}')) return evaluate(parseExpression(whole[1]!), ctx)
  return s.replace(TEMPLATE_RE, (_, src: string) => {
    const v = evaluate(parseExpression(src), ctx)
    if (v === undefined || v === null) return ''
    return typeof v === 'object' ? JSON.stringify(v) : String(v)
  })
}

/** Resolve every expression inside a value (strings, lists, mappings). */
export function resolveDeep(value: unknown, ctx: Contexts): unknown {
  if (typeof value === 'string') return hasExpression(value) ? evaluateTemplate(value, ctx) : value
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, ctx))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = resolveDeep(v, ctx)
    return out
  }
  return value
}

/** Evaluate an `if:` condition: a bare expression or a `${{ }}` one. */
export function evaluateCondition(src: string | boolean, ctx: Contexts): boolean {
  if (typeof src === 'boolean') return src
  const inner = WHOLE_RE.exec(src)?.[1] ?? src
  return Boolean(evaluate(parseExpression(inner), ctx))
}

/** Every path an expression reads, for static checks: ["params.steps", "steps.shift.outputs"]. */
export function referencedPaths(value: unknown): {root: string; first?: string; second?: string}[] {
  const out: {root: string; first?: string; second?: string}[] = []
  const visit = (n: Node): void => {
    if (n.t === 'path') {
      const [a, b] = n.parts
      out.push({root: n.root, first: typeof a === 'string' ? a : undefined, second: typeof b === 'string' ? b : undefined})
      for (const p of n.parts) if (typeof p !== 'string') visit(p)
    } else if (n.t === 'un') visit(n.a)
    else if (n.t === 'bin') {
      visit(n.a)
      visit(n.b)
    } else if (n.t === 'call') n.args.forEach(visit)
    else if (n.t === 'index') {
      visit(n.obj)
      if (typeof n.key !== 'string') visit(n.key)
    }
  }
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      const opened = v.split('${{').length - 1
      const closed = [...v.matchAll(TEMPLATE_RE)].length
      if (opened > closed) throw new ExpressionError(`"\${{" without its closing "}}" in ${JSON.stringify(v)}`)
      const whole = WHOLE_RE.exec(v)
      const sources = hasExpression(v) ? [...v.matchAll(TEMPLATE_RE)].map((m) => m[1]!) : []
      if (whole && sources.length === 0) sources.push(whole[1]!)
      for (const src of sources) visit(parseExpression(src))
    } else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(value)
  return out
}

/** Parse every expression in a value; throws ExpressionError on the first bad one. */
export function checkSyntax(value: unknown): void {
  referencedPaths(value)
}
