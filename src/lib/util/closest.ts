/** "Did you mean …?": the option a mistyped word most likely meant, if any is close enough. */

/** Edit distance counting a swap of two neighbours as one edit (tll → ttl). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => Array.from({length: b.length + 1}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

export function closest(word: string, options: string[]): string | undefined {
  // A prefix of one option only (prod → production) is as good a guess as a typo.
  const prefixed = word.length >= 3 ? options.filter((o) => o.toLowerCase().startsWith(word.toLowerCase())) : []
  if (prefixed.length === 1) return prefixed[0]
  let best: string | undefined
  let bestD = Infinity
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = o
    }
  }
  // Short words need a close match, or everything looks like a suggestion ("MX" → "A").
  return bestD <= Math.max(1, Math.floor(word.length / 3)) && bestD < word.length ? best : undefined
}
