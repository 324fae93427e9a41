/**
 * Keeps secrets out of logs, state, journals and reports: registered values, the values of
 * environment variables whose names say they are secret, and passwords inside URLs.
 */
const SECRET_NAME_RE = /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)/i
/** Names of where a secret is (AWS_SHARED_CREDENTIALS_FILE), not of a secret: their values are paths. */
const LOCATION_NAME_RE = /_(FILE|PATH|DIR)$/i
const isSecretName = (name: string) => SECRET_NAME_RE.test(name) && !LOCATION_NAME_RE.test(name)
const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi
export const MASK = '***'

export class Redactor {
  private readonly values = new Set<string>()

  constructor(env: NodeJS.ProcessEnv = process.env) {
    for (const [name, value] of Object.entries(env)) {
      if (value && isSecretName(name)) this.add(value)
    }
  }

  /**
   * Secrets a config holds or points at, registered before anything is written: the values of
   * variables its `…Env` fields name (urlEnv, webhookUrlEnv, routingKeyEnv), looked up in its
   * tools.env then the process's environment, and values under secret-looking names in any
   * `env` map (tools.env, database.syncHook.env).
   */
  addFromConfig(config: unknown, env: NodeJS.ProcessEnv = process.env): void {
    const toolsEnv = ((config as {tools?: {env?: Record<string, string>}} | undefined)?.tools?.env ?? {}) as Record<string, string>
    const visit = (value: unknown, key: string, parentKey: string): void => {
      if (typeof value === 'string') {
        if (/Env$/.test(key) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) this.add(toolsEnv[value] ?? env[value])
        if (parentKey === 'env' && isSecretName(key)) this.add(value)
        return
      }
      if (Array.isArray(value)) value.forEach((v) => visit(v, key, parentKey))
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k, key)
    }
    visit(config, '', '')
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
