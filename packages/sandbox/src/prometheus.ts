/**
 * A Prometheus HTTP API stand-in for the sandbox, so that `gate-prometheus` can be rehearsed and
 * tested against the real wire format without a Prometheus.
 *
 * Be clear about what it is: a lookup of named series, NOT a PromQL engine. The sandbox computes
 * a few numbers itself (from its two stacks' request counters) and hands them over as
 * `series()`: a map from query text to value. A query is answered by matching its text exactly
 * (after whitespace normalisation, see normalizeQuery) against those keys:
 *
 *   - key present, value a number → a one-sample instant vector with no labels (NaN → "NaN");
 *   - key missing or its value undefined → an empty vector (what Prometheus says for series
 *     that do not exist, and what the gate calls "no data");
 *   - a query that is not even well-formed (empty, unbalanced brackets or quotes) → HTTP 400,
 *     {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": …"} as
 *     Prometheus answers; only this delimiter check is done, nothing else is parsed;
 *   - series() throwing → HTTP 422, errorType "execution" (Prometheus' answer for a query that
 *     fails while being evaluated).
 *
 * The queries the sandbox is expected to serve, per stack (`legacy`, `kubernetes`), are those of
 * sandboxQueries() below: the 5xx ratio, the p95 latency in seconds and the request rate, over
 * the last minute. Runbooks and the sandbox's config should take the text from there, so that
 * both sides agree on the exact keys.
 *
 * Served: GET and POST (form-encoded) /api/v1/query with `query` and optional `time`;
 * /-/ready and /-/healthy. Anything else is 404.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import {listen} from './listen.js'

export type SeriesValues = Record<string, number | undefined>

export interface PrometheusStandInOptions {
  port?: number
  host?: string
  /** The current value of each query the stand-in serves, keyed by query text. Called per request. */
  series: () => SeriesValues | Promise<SeriesValues>
}

export interface PrometheusStandIn {
  url: string
  port: number
  /** Queries received, in order, with the HTTP status answered. */
  requestLog: {time: string; query: string; status: number}[]
  close(): Promise<void>
}

export type Stack = 'legacy' | 'kubernetes'

/** The query texts the sandbox serves for a stack (keys of its series()). */
export function sandboxQueries(stack: Stack): {errorRatio: string; p95Seconds: string; requestRate: string} {
  const sel = `stack="${stack}"`
  return {
    errorRatio: `sum(rate(http_requests_total{${sel},code=~"5.."}[1m])) / sum(rate(http_requests_total{${sel}}[1m]))`,
    p95Seconds: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${sel}}[1m])))`,
    requestRate: `sum(rate(http_requests_total{${sel}}[1m]))`,
  }
}

/**
 * Whitespace does not change a PromQL query's meaning, so it does not change the key either:
 * outside string literals, runs of whitespace are dropped, except one space between two word
 * characters (`sum by (le)` → `sum by(le)`, `a / b` → `a/b`).
 */
export function normalizeQuery(q: string): string {
  let out = ''
  let quote: string | undefined
  const word = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_:.]/.test(c)
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!
    if (quote) {
      out += c
      if (c === '\\' && i + 1 < q.length) out += q[++i]
      else if (c === quote) quote = undefined
      continue
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c
      out += c
      continue
    }
    if (/\s/.test(c)) {
      let j = i
      while (j + 1 < q.length && /\s/.test(q[j + 1]!)) j++
      if (word(out.at(-1)) && word(q[j + 1])) out += ' '
      i = j
      continue
    }
    out += c
  }
  return out
}

/** The delimiter check: the only "parsing" done. Returns Prometheus-style parse error text, or undefined. */
export function syntaxError(q: string): string | undefined {
  if (q.trim() === '') return 'unknown position: parse error: no expression found in input'
  const close: Record<string, string> = {'(': ')', '[': ']', '{': '}'}
  const name: Record<string, string> = {'(': 'parenthesis', '[': 'bracket', '{': 'brace', ')': 'parenthesis', ']': 'bracket', '}': 'brace'}
  const open: {c: string; at: number}[] = []
  let quote: {c: string; at: number} | undefined
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!
    const pos = `1:${i + 1}`
    if (quote) {
      if (c === '\\') i++
      else if (c === quote.c) quote = undefined
      continue
    }
    if (c === '"' || c === "'" || c === '`') quote = {c, at: i}
    else if (close[c]) open.push({c, at: i})
    else if (c === ')' || c === ']' || c === '}') {
      const top = open.pop()
      if (!top || close[top.c] !== c) return `${pos}: parse error: unexpected right ${name[c]} '${c}'`
    }
  }
  if (quote) return `1:${quote.at + 1}: parse error: unterminated quoted string`
  const top = open.pop()
  if (top) return `1:${top.at + 1}: parse error: unclosed left ${name[top.c]}`
  return undefined
}

/** Prometheus writes sample values as strings; infinities as +Inf/-Inf. */
function sampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

function parseTime(t: string | null): number | undefined {
  if (t === null || t === '') return Date.now() / 1000
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t)
  const ms = Date.parse(t)
  return Number.isNaN(ms) ? undefined : ms / 1000
}

export async function startPrometheusStandIn(opts: PrometheusStandInOptions): Promise<PrometheusStandIn> {
  const host = opts.host ?? '127.0.0.1'
  const requestLog: PrometheusStandIn['requestLog'] = []

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
    res.end(text)
  }
  const badData = (res: ServerResponse, error: string) => send(res, 400, {status: 'error', errorType: 'bad_data', error})

  const answerQuery = async (params: URLSearchParams, res: ServerResponse) => {
    const query = params.get('query') ?? ''
    const entry = {time: new Date().toISOString(), query, status: 0}
    requestLog.push(entry)
    try {
      const bad = syntaxError(query)
      if (bad) return badData(res, `invalid parameter "query": ${bad}`)
      const time = parseTime(params.get('time'))
      if (time === undefined) return badData(res, `invalid parameter "time": cannot parse "${params.get('time')}" to a valid timestamp`)
      let values: SeriesValues
      try {
        values = await opts.series()
      } catch (error) {
        return send(res, 422, {status: 'error', errorType: 'execution', error: (error as Error).message})
      }
      const key = normalizeQuery(query)
      const hit = Object.entries(values).find(([k]) => normalizeQuery(k) === key)?.[1]
      const result = hit === undefined ? [] : [{metric: {}, value: [Math.round(time * 1000) / 1000, sampleValue(hit)]}]
      send(res, 200, {status: 'success', data: {resultType: 'vector', result}})
    } finally {
      entry.status = res.statusCode
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => res.destroy())
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in')
      const method = req.method ?? 'GET'
      if (url.pathname === '/-/ready' || url.pathname === '/-/healthy') {
        res.writeHead(200, {'content-type': 'text/plain; charset=utf-8'})
        return res.end(url.pathname === '/-/ready' ? 'Prometheus Server is Ready.\n' : 'Prometheus Server is Healthy.\n')
      }
      if (url.pathname !== '/api/v1/query') {
        res.writeHead(404, {'content-type': 'text/plain; charset=utf-8'})
        return res.end('404 page not found\n')
      }
      if (method !== 'GET' && method !== 'POST') {
        res.writeHead(405, {allow: 'GET, POST'})
        return res.end()
      }
      // POST carries the parameters form-encoded in the body (clients use it for long queries).
      const params = new URLSearchParams(url.search)
      if (method === 'POST') for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.set(k, v)
      answerQuery(params, res).catch((error: Error) => {
        if (!res.headersSent) send(res, 500, {status: 'error', errorType: 'internal', error: error.message})
        else res.destroy()
      })
    })
  })

  const {port, url} = await listen(server, opts.port, host)
  let closing: Promise<void> | undefined
  return {
    url,
    port,
    requestLog,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}
