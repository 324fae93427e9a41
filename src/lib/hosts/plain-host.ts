/**
 * A line per event, for logs and terminals without a task list (CI, pipes, --output plain):
 * timestamped, one event per line, continuation lines indented. In quiet mode (--json owns
 * stdout) only warnings are written.
 */
import type {EngineEvent, EngineHost} from '../engine/events.js'
import {formatDuration} from '../util/duration.js'
import {confirmOnTerminal} from './terminal.js'

export interface PlainHostOptions {
  /** Where lines go (default: stderr; stdout is for data). */
  write?: (text: string) => void
  /** Someone can be asked on this terminal. */
  interactive?: boolean
  /** Only warnings (a passed deadline). */
  quiet?: boolean
  /** Prefix lines with the time of day (default: true). */
  timestamps?: boolean
}

export class PlainHost implements EngineHost {
  private readonly write: (text: string) => void
  private group: string | undefined
  readonly confirm

  constructor(private readonly o: PlainHostOptions = {}) {
    this.write = o.write ?? ((t) => process.stderr.write(t))
    this.confirm = o.interactive ? confirmOnTerminal : undefined
  }

  notify(e: EngineEvent): void {
    if (this.o.quiet && e.type !== 'deadline.exceeded' && !(e.type === 'step.skipped' && e.warning)) return
    for (const line of this.lines(e)) this.emitLine(line)
  }

  private emitLine(line: string): void {
    const stamp = this.o.timestamps === false ? '' : `[${new Date().toISOString().slice(11, 19)}] `
    const [first, ...rest] = line.split('\n')
    this.write(`${stamp}${first}\n${rest.map((r) => `${' '.repeat(stamp.length)}    ${r}\n`).join('')}`)
  }

  private lines(e: EngineEvent): string[] {
    switch (e.type) {
      case 'run.started':
        return [`▶ ${e.runbook}${e.environment ? ` on ${e.environment}` : ''}${e.resumed ? ', resumed' : ''} (run ${e.runId})`]
      case 'step.started': {
        const out: string[] = []
        if (e.group && e.group.id !== this.group) out.push(`■ ${e.group.title}`)
        this.group = e.group?.id
        out.push(`${e.group ? '  ' : ''}→ ${e.title}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`)
        return out
      }
      case 'step.output':
        return [`    › ${e.line}`]
      case 'step.retrying':
        return [`    ↻ attempt ${e.attempt} of ${e.of} failed: ${e.error}; retrying in ${formatDuration(e.delayMs)}`]
      case 'step.in-doubt':
        return e.verdict === 'done' ? [] : [`    ? ${e.detail ?? e.verdict}`]
      case 'step.succeeded':
        return [`✔ ${e.title}${e.summary ? ` — ${e.summary}` : ''}${e.durationMs >= 1000 ? ` (${formatDuration(e.durationMs)})` : ''}`]
      case 'step.skipped':
        return [`${e.warning ? '⚠' : '↓'} ${e.title} — ${e.warning ? 'SKIPPED: ' : ''}${e.reason}`]
      case 'step.paused':
        return [`⏸ ${e.title} — ${e.reason}`]
      case 'step.failed':
        return [
          `✖ ${e.title} — ${e.error.message}`,
          ...(e.continues ? ['    the run goes on (onFailure: continue)'] : []),
          ...(e.compensation ? [`    running ${e.compensation.length} compensating step(s): ${e.compensation.map((c) => c.title).join(', ')}`] : []),
        ]
      case 'deadline.exceeded':
        return [
          `⚠ DEADLINE PASSED: ${e.runbook} has run longer than its ${formatDuration(e.budgetMs)} budget${e.policy === 'continue' ? '; the run goes on.' : '; stopping the run.'}`,
        ]
      case 'run.finished':
        return e.reason ? [`⏸ stopped: ${e.reason}`] : []
    }
  }
}
