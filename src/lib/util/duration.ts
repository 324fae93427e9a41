/** Durations as people write them in YAML and flags: 250ms, 30s, 5m, 1h30m, or a bare number of seconds. */
const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input * 1000) : undefined
  let rest = input.trim()
  if (/^\d+(\.\d+)?$/.test(rest)) return Math.round(Number(rest) * 1000)
  if (rest === '') return undefined
  let total = 0
  while (rest.length > 0) {
    const m = DURATION_RE.exec(rest)
    if (!m) return undefined
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    rest = rest.slice(m[0].length)
  }
  return Math.round(total)
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?'
  const neg = ms < 0
  let v = Math.abs(Math.round(ms))
  if (v < 1000) return `${neg ? '-' : ''}${v}ms`
  const h = Math.floor(v / 3_600_000)
  v -= h * 3_600_000
  const m = Math.floor(v / 60_000)
  v -= m * 60_000
  const s = Math.floor(v / 1000)
  const tenths = h === 0 && m === 0 ? Math.floor((v % 1000) / 100) : 0
  const parts: string[] = []
  if (h) parts.push(`${h}h`)
  if (m) parts.push(`${m}m`)
  if (s || tenths || parts.length === 0) parts.push(tenths ? `${s}.${tenths}s` : `${s}s`)
  return (neg ? '-' : '') + parts.join('')
}
