import {Flags} from '@oclif/core'
import {OpsCommand} from '../../lib/command.js'
import {configFlag, stateDirFlag} from '../../lib/flags.js'
import {formatDuration} from '../../lib/util/duration.js'

export default class RunsList extends OpsCommand<typeof RunsList> {
  static override summary = 'List runs, newest first.'
  static override examples = [
    '<%= config.bin %> runs list',
    {description: "The team's runs on production, from its state in S3 (state: s3://… in the config)", command: '<%= config.bin %> runs list --env production'},
    {description: 'Runs on production that did not succeed, as JSON', command: '<%= config.bin %> runs list --env production --status failed --status interrupted --json'},
  ]

  static override flags = {
    env: Flags.string({char: 'e', summary: 'Only runs on this environment.'}),
    status: Flags.string({summary: 'Only runs with this status (repeatable).', options: ['running', 'succeeded', 'failed', 'interrupted'], multiple: true}),
    limit: Flags.integer({summary: 'At most this many runs.', default: 20, min: 1}),
    config: configFlag,
    'state-dir': stateDirFlag,
  }

  async run(): Promise<{runs: Record<string, unknown>[]}> {
    const f = this.flags
    const store = await this.runStore({env: f.env, config: f.config, stateDir: this.stateDir(f['state-dir'])})
    const runs = []
    for (const id of (await store.listRunIds()).reverse()) {
      const s = await store.readSnapshot(id)
      // One damaged run must not hide the others: it is listed as unreadable, with its file.
      const damaged = !s || typeof s !== 'object' || !Array.isArray(s.steps) || typeof s.status !== 'string' || !s.who || !s.runbook
      if (damaged) {
        if (f.env || f.status) continue
        this.warn(`${store.runWhere(id)}state.json cannot be read (empty, cut short or not a run's state); "clipper-ops runs show ${id}" says more.`)
        runs.push({id, runbook: null, environment: null, status: 'unreadable', createdAt: null, endedAt: null, durationMs: null, steps: {total: 0, done: 0}, at: null, who: null})
        continue
      }
      if (f.env && s.environment !== f.env) continue
      if (f.status && !f.status.includes(s.status)) continue
      const current = s.steps.find((x) => x.status === 'running' || x.status === 'failed')
      runs.push({
        id: s.id,
        runbook: s.runbook.name,
        environment: s.environment ?? null,
        status: s.status,
        createdAt: s.createdAt,
        endedAt: s.endedAt ?? null,
        durationMs: s.durationMs ?? null,
        steps: {total: s.steps.length, done: s.steps.filter((x) => x.status === 'succeeded' || x.status === 'skipped').length},
        at: current?.id ?? s.stopped?.stepId ?? null,
        who: `${s.who.user}@${s.who.host}`,
      })
      if (runs.length >= f.limit) break
    }
    if (!this.jsonEnabled()) {
      if (runs.length === 0) this.log(`No runs in ${store.where}.`)
      else {
        const rows = runs.map((r) => [
          r.id,
          r.createdAt ? `${r.createdAt.slice(0, 10)} ${r.createdAt.slice(11, 19)}Z` : '-',
          r.environment ?? '-',
          r.status,
          `${r.steps.done}/${r.steps.total}`,
          r.durationMs === null ? '-' : formatDuration(r.durationMs as number),
          r.at ?? '',
        ])
        const head = ['RUN', 'STARTED', 'ENV', 'STATUS', 'STEPS', 'TIME', 'AT STEP']
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
        const line = (r: string[]) =>
          r
            .map((c, i) => String(c).padEnd(widths[i]!))
            .join('  ')
            .trimEnd()
        this.log(line(head))
        for (const r of rows) this.log(line(r as string[]))
      }
    }
    return {runs}
  }
}
