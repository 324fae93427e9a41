/**
 * Keeps secrets out of logs, state, journals and reports: registered values, the values of
 * environment variables whose names say they are secret, and passwords inside URLs.
 */
const SECRET_NAME_RE = /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)/i
const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi
export const MASK = '***'

export class Redactor {
  private readonly values = new Set<string>()

  constructor(env: NodeJS.ProcessEnv = process.env) {
    for (const [name, value] of Object.entries(env)) {
      if (value && SECRET_NAME_RE.test(name)) this.add(value)
    }
  }

  add(value: string | undefined): void {
    // Very short values would mask ordinary words; they are not secrets worth the name.
    if (value && value.length >= 4) this.values.add(value)
  }

  text(s: string): string {
    let out = s.replace(URL_PASSWORD_RE, `$1${MASK}$3`)
    // Longest first, so a secret that contains another is masked whole.
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) {
      if (out.includes(v)) out = out.split(v).join(MASK)
    }
    return out
  }

  deep<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = this.deep(v)
      return out as T
    }
    return value
  }
}
