import {Flags} from '@oclif/core'
import {OpsCommand} from '../lib/command.js'
import {UsageError} from '../lib/errors.js'
import {filterAudit, type AuditEntry} from '../lib/engine/audit.js'
import {auditDetail, auditTime, auditWho} from '../lib/report/audit-lines.js'
import {configFlag, stateDirFlag} from '../lib/flags.js'
import {parseDuration} from '../lib/util/duration.js'

const SINCE_FORMS = 'expected a duration back from now such as 30m, 2h or 7d, or an ISO 8601 time such as 2026-05-01 or 2026-05-01T14:00:00Z'
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/** A duration with a unit (a bare "7" could mean days or hours), or an ISO time; UTC unless it names an offset. */
function parseSince(raw: string, now = Date.now()): Date | undefined {
  const v = raw.trim()
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(v)) {
    const ms = parseDuration(v)
    return ms === undefined ? undefined : new Date(now - ms)
  }
  const m = ISO_RE.exec(v)
  if (!m) return undefined
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone] = m
  // Date.parse rolls 2026-02-31 over to March; a typo there must be an error, not another day.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)))
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined
  const iso = m[4] === undefined ? `${y}-${mo}-${d}T00:00:00Z` : `${v.slice(0, 10)}T${v.slice(11).replace(/z$/, 'Z')}${zone ? '' : 'Z'}`
  const t = Date.parse(iso)
  return Number.isNaN(t) ? undefined : new Date(t)
}

export default class Audit extends OpsCommand<typeof Audit> {
  static override summary = 'Read the audit trail: who ran, locked, approved and changed what, and when.'
  static override description = `Every run appends to audit.jsonl in the state directory (or, with team state — state: s3://… in the config — to one object per entry under its audit/ prefix, read here with --env or the config's state): runs started, resumed and ended, locks taken, taken over and broken, approvals, traffic shifts, gate results and each step that changed something. This prints it oldest first (newest last), filtered. A damaged line is skipped with a warning naming the file and line.`

  static override examples = [
    {description: 'What happened on production in the last 2 hours', command: '<%= config.bin %> audit --env production --since 2h'},
    {
      description: 'Approvals and lock changes since a date, as JSON',
      command: '<%= config.bin %> audit --env production --since 2026-05-01 --action approval --action "lock.*" --json',
    },
    {description: 'Everything one run did (a prefix of its id will do)', command: '<%= config.bin %> audit --run 20261123-101500-rollback'},
  ]

  static override flags = {
    env: Flags.string({char: 'e', summary: 'Only entries for this environment.', description: 'Runs without an environment are recorded as runbook-<name>, e.g. runbook-demo.'}),
    since: Flags.custom<Date>({
      summary: 'Only entries since then: a duration back from now (30m, 2h, 7d) or an ISO time (2026-05-01T14:00:00Z; UTC unless it names an offset).',
      parse: async (raw) => {
        const at = parseSince(raw)
        if (!at) throw new UsageError(`--since ${raw}: ${SINCE_FORMS}.`, {code: 'BAD_FLAG'})
        return at
      },
    })(),
    run: Flags.string({summary: 'Only entries of this run (a prefix of its id will do).'}),
    action: Flags.string({
      char: 'a',
      summary: 'Only these actions: a prefix (lock) or a glob (run.*, *.failed); repeatable.',
      description:
        'Actions: run.started, run.resumed, run.succeeded, run.failed, run.interrupted, lock.acquired, lock.taken-over, lock.broken, step.changed, approval, dns.shift, gates.',
      multiple: true,
    }),
    limit: Flags.integer({summary: 'At most this many entries (the newest).', default: 50, min: 1}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<AuditEntry[]> {
    const f = this.flags
    const store = await this.runStore({env: f.env, config: f.config, stateDir: this.stateDir(f['state-dir'])})
    const file = store.shared ? `${store.where}/audit/` : store.local.auditFile()
    // Warned even with --json: stdout stays the entries, and a damaged trail must not pass unseen.
    const all = await store.readAudit((d) => process.stderr.write(`Warning: ${d.file}:${d.line}: ${d.message}\n`))
    const matching = filterAudit(all ?? [], {scope: f.env, since: f.since, run: f.run, actions: f.action})
    const entries = matching.slice(-f.limit)
    if (!this.jsonEnabled()) {
      if (!all) this.log(`No audit entries: ${file} does not exist yet (every run writes to it).`)
      else if (all.length === 0) this.log(`No audit entries in ${file} yet.`)
      else if (entries.length === 0) this.log(`No audit entries match (${all.length} in ${file}).`)
      else {
        const rows = entries.map((e) => [auditTime(e), ...(f.env ? [] : [e.scope ?? '-']), auditWho(e), e.action, e.runId ?? '-', auditDetail(e)])
        const head = ['TIME', ...(f.env ? [] : ['ENV']), 'WHO', 'ACTION', 'RUN', 'DETAIL']
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
        // On a terminal a row stays one line: the detail is cut at the edge (all of it is in --json).
        const cols = process.stdout.isTTY ? process.stdout.columns || 80 : Infinity
        const line = (r: string[]) => {
          const l = r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()
          return l.length > cols ? `${l.slice(0, cols - 1)}…` : l
        }
        this.log(line(head))
        for (const r of rows) this.log(line(r))
        if (matching.length > entries.length) this.note(`Showing the newest ${entries.length} of ${matching.length} entries; see more with --limit ${matching.length}.`)
      }
    }
    return entries
  }
}
