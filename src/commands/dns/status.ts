import {OpsCommand} from '../../lib/command.js'
import {envFlag, configFlag, stateDirFlag} from '../../lib/flags.js'
import {loadEnvironment} from '../../lib/config/load.js'
import {dnsStatus} from '../../lib/aws/dns-status.js'

export default class DnsStatus extends OpsCommand<typeof DnsStatus> {
  static override summary = "Show the public record's weighted targets: weight, share of traffic, target, TTL, health, and whether the pair is safe."
  static override description = `Reads Route 53 (read-only calls only). "Safe" means both weighted records exist as the config describes them, not both at weight 0 (Route 53 would split equally), no simple record of the same name beside them, and no TTL above dns.maxTtl.

Exit codes: 0 read (safe or not: see "safe"), 1 Route 53 could not be read, 2 bad flags or config.`

  static override examples = [
    '<%= config.bin %> dns status --env production',
    {description: 'As JSON, e.g. for a dashboard', command: '<%= config.bin %> dns status --env sandbox --json | jq ".records[] | {setIdentifier, weight, share}"'},
  ]

  static override flags = {env: envFlag, config: configFlag, 'state-dir': stateDirFlag}

  async run(): Promise<unknown> {
    const {name, environment} = await loadEnvironment({env: this.flags.env, config: this.flags.config, stateRoot: this.stateDir(this.flags['state-dir']).root})
    const s = await dnsStatus(environment)
    if (!this.jsonEnabled()) {
      this.log(`${s.record.name} ${s.record.type} in zone ${s.record.hostedZoneId} (${name})`)
      this.log('')
      const rows = s.records.map((r) => [
        r.setIdentifier ?? '(simple)',
        r.role ?? '?',
        r.weight === null ? '-' : String(r.weight),
        r.share === null ? '-' : `${r.share}%`,
        r.alias ? `alias ${r.alias.dnsName}` : (r.values ?? []).join(','),
        r.ttl === null ? '-' : `${r.ttl}s${r.alias ? ' (target)' : ''}`,
        r.health ?? '-',
      ])
      const head = ['SET ID', 'ROLE', 'WEIGHT', 'SHARE', 'TARGET', 'TTL', 'HEALTH']
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      const line = (r: string[]) =>
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join('  ')
          .trimEnd()
      this.log(line(head))
      for (const r of rows) this.log(line(r))
      this.log('')
      this.log(s.safe ? `Safe to shift. A change reaches everyone ${s.effectiveTtlSeconds}s after INSYNC.` : 'NOT safe to shift:')
      for (const p of s.problems) this.log(`  ${p.level === 'error' ? '✖' : '⚠'} ${p.message}`)
    }
    return s
  }
}
