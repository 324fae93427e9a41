/**
 * The task list on a terminal (listr2's default renderer, on stderr). The engine runs the steps;
 * this host mirrors them: when a run starts it builds a listr2 task per agenda step whose task
 * function waits for that step's outcome from the engine's events, so listr2 draws what the
 * engine does, in the engine's order. Compensating steps appear under the step that failed.
 * Approvals are asked through the step's task (listr2's inquirer adapter), so that the renderer
 * and the prompt do not fight over the terminal.
 */
import type {ListrTask, ListrTaskWrapper} from 'listr2'
import type {AgendaStep, ConfirmRequest, EngineEvent, EngineHost} from '../engine/events.js'
import {formatDuration} from '../util/duration.js'
import {confirmOnTerminal} from './terminal.js'

type Task = ListrTaskWrapper<any, any, any>
type Outcome = {kind: 'ok'; title: string} | {kind: 'skip'; title: string} | {kind: 'fail'; message: string} | {kind: 'sub'; mirrors: Mirror[]}

/** One step (or group) as listr2 shows it; its task ends when the engine says how the step ended. */
class Mirror {
  private task: Task | undefined
  private output: string | undefined
  private settleWith!: (o: Outcome) => void
  private attachedWith!: (t: Task) => void
  private readonly outcome = new Promise<Outcome>((r) => (this.settleWith = r))
  readonly attached = new Promise<Task>((r) => (this.attachedWith = r))
  settled = false

  constructor(
    public title: string,
    private readonly exitOnError = true,
    private readonly children?: Mirror[],
  ) {}

  setTitle(title: string): void {
    this.title = title
    if (this.task) this.task.title = title
  }

  /** Progress after the title while the step runs (step n of m, time); gone once it settles. */
  setProgress(text: string): void {
    if (this.task && !this.settled) this.task.title = `${this.title} ${text}`
  }

  setOutput(line: string): void {
    this.output = line
    if (this.task) this.task.output = line
  }

  settle(o: Outcome): void {
    if (this.settled) return
    this.settled = true
    this.settleWith(o)
  }

  /** The task list entry: a group's children run as its subtasks, a step waits for its outcome. */
  listrTask(): ListrTask {
    return {
      title: this.title,
      exitOnError: this.exitOnError,
      task: async (_ctx, task: Task) => {
        this.task = task
        task.title = this.title
        if (this.output) task.output = this.output
        this.attachedWith(task)
        if (this.children)
          return task.newListr(
            this.children.map((c) => c.listrTask()),
            {exitOnError: true},
          )
        const o = await this.outcome
        if (o.kind === 'ok') task.title = o.title
        else if (o.kind === 'skip') {
          // The default renderer shows a skip message instead of the title: put both in the title.
          task.title = o.title
          task.skip()
        } else if (o.kind === 'fail') {
          task.title = this.title // a prompt shown in the task may have replaced it
          throw new Error(o.message)
        } else
          return task.newListr(
            o.mirrors.map((m) => m.listrTask()),
            {exitOnError: true},
          )
        return undefined
      },
    }
  }
}

export class ListrHost implements EngineHost {
  private readonly mirrors = new Map<string, Mirror>()
  private current: Mirror | undefined
  private currentSince = Date.now()
  /** The steps in run order, and the running one's place in it (for "step n of m"). */
  private order: string[] = []
  private position = 0
  private running: Promise<unknown> | undefined
  private ticker: NodeJS.Timeout | undefined
  /** Mirrors that end with the run: the "stop" after compensating steps. */
  private readonly endings: Mirror[] = []
  readonly confirm?: (request: ConfirmRequest) => Promise<boolean>

  constructor(opts: {interactive: boolean}) {
    if (opts.interactive) this.confirm = (request) => this.ask(request)
    // A terminal that reports no size (0×0: `script`, some CI runners, `docker exec -t`) made the
    // renderer spin at 100 % CPU drawing into zero columns: draw as on an 80×24 terminal.
    for (const stream of [process.stdout, process.stderr]) {
      if (stream.isTTY && !stream.columns) stream.columns = 80
      if (stream.isTTY && !stream.rows) stream.rows = 24
    }
  }

  notify(e: EngineEvent): void {
    switch (e.type) {
      case 'run.started':
        return this.start(e)
      case 'step.started': {
        const m = this.mirror(e.stepId, e.title)
        m.setTitle(e.title)
        this.current = m
        this.currentSince = Date.now()
        this.position = this.order.indexOf(e.stepId) + 1 || this.position
        return
      }
      case 'step.output':
        return this.mirror(e.stepId).setOutput(e.line)
      case 'step.retrying':
        return this.mirror(e.stepId).setOutput(`attempt ${e.attempt} of ${e.of} failed: ${e.error}; retrying in ${formatDuration(e.delayMs)}`)
      case 'step.in-doubt':
        if (e.detail) this.mirror(e.stepId).setOutput(e.detail)
        return
      case 'step.succeeded':
        return this.mirror(e.stepId).settle({kind: 'ok', title: e.summary ? `${e.title} — ${e.summary}` : e.title})
      case 'step.skipped':
        return this.mirror(e.stepId).settle({kind: 'skip', title: `${e.warning ? '⚠ ' : ''}${e.title} — ${e.reason}`})
      case 'step.paused':
        // Shown as the step where the run stopped (nothing after it starts); the summary says ⏸.
        return this.mirror(e.stepId).settle({kind: 'fail', message: `⏸ paused: ${e.reason}`})
      case 'step.failed': {
        const m = this.mirror(e.stepId)
        if (!e.compensation) return m.settle({kind: 'fail', message: e.error.message})
        m.setOutput(`${e.error.message}\nrunning ${e.compensation.length} compensating step(s): ${e.compensation.map((c) => c.title).join(', ')}`)
        return m.settle({kind: 'sub', mirrors: [...e.compensation.map((c) => this.stepMirror(c)), this.ending(`The run stops: ${e.title} failed`)]})
      }
      case 'deadline.exceeded':
        this.current?.setOutput(
          `⚠ DEADLINE PASSED: ${e.runbook} has run longer than its ${formatDuration(e.budgetMs)} budget${e.policy === 'continue' ? ' — continuing' : ' — stopping'}`,
        )
        return
      case 'run.finished': {
        if (this.ticker) clearInterval(this.ticker)
        // Whatever is still waiting ends with the run: an interrupted step shows why it stopped.
        const message = e.reason ?? (e.failure ? (e.failure.compensated ? `${e.failure.stepId} failed; its compensating steps ran.` : e.failure.message) : 'stopped')
        for (const m of [...this.mirrors.values(), ...this.endings]) m.settle({kind: 'fail', message})
        return
      }
    }
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker)
    await this.running?.catch(() => undefined)
  }

  private start(e: Extract<EngineEvent, {type: 'run.started'}>): void {
    const top = e.agenda.map((item) =>
      item.type === 'step'
        ? this.stepMirror(item)
        : new Mirror(
            item.title,
            true,
            item.steps.map((s) => this.stepMirror(s)),
          ),
    )
    if (e.compensating) top.push(this.ending(`The run stops: ${e.compensating.failedStepId} failed`))
    this.running = this.render(top.map((m) => m.listrTask()))
    // The list ends in error when a step fails; that is the run's news (events), not a crash.
    this.running.catch(() => undefined)
    this.order = e.agenda.flatMap((item) => (item.type === 'step' ? [item.id] : item.steps.map((x) => x.id)))
    this.tick(e.startedAt, e.deadline)
  }

  private async render(tasks: ListrTask[]): Promise<unknown> {
    const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
    // Progress is a message, not data: it goes to stderr, leaving stdout for --json.
    const logger = new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})
    const list = new Listr(tasks, {
      renderer: 'default',
      registerSignalListeners: false,
      exitOnError: true,
      collectErrors: false,
      rendererOptions: {logger, collapseSubtasks: false, showErrorMessage: true, collapseErrors: false, suffixSkips: true, formatOutput: 'wrap'},
    })
    return list.run()
  }

  private stepMirror(s: AgendaStep): Mirror {
    const m = new Mirror(s.title, !s.continues)
    this.mirrors.set(s.id, m)
    return m
  }

  /** The last entry under a failed step's compensations: it fails with the run. */
  private ending(title: string): Mirror {
    const m = new Mirror(title)
    this.endings.push(m)
    return m
  }

  private mirror(id: string, title = id): Mirror {
    let m = this.mirrors.get(id)
    if (!m) this.mirrors.set(id, (m = new Mirror(title)))
    return m
  }

  private async ask(request: ConfirmRequest): Promise<boolean> {
    const m = this.mirrors.get(request.stepId)
    if (!m) return confirmOnTerminal(request)
    const task = await m.attached
    const [{confirm}, {ListrInquirerPromptAdapter}] = await Promise.all([import('@inquirer/prompts'), import('@listr2/prompt-adapter-inquirer')])
    const signal = request.timeoutMs ? AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]) : request.signal
    return Boolean(await task.prompt(ListrInquirerPromptAdapter).run(confirm, {message: request.message, default: request.default}, {signal}))
  }

  /**
   * Once a second the running step's title shows where the run is — step n of m, time in the
   * step, time since the start — and, with a deadline, the time left (or how far over it is).
   */
  private tick(startedAt: string, d?: {budgetMs: number; at: string}): void {
    const show = () => {
      if (!this.current) return
      const parts = [`${this.position}/${this.order.length}`, formatDuration(Math.round((Date.now() - this.currentSince) / 1000) * 1000)]
      const elapsed = Date.now() - Date.parse(startedAt)
      if (d) {
        const left = Date.parse(d.at) - Date.now()
        parts.push(
          left >= 0
            ? `${formatDuration(Math.round(left / 1000) * 1000)} left of ${formatDuration(d.budgetMs)}`
            : `OVER the ${formatDuration(d.budgetMs)} deadline by ${formatDuration(-left)}`,
        )
      } else parts.push(`${formatDuration(Math.round(elapsed / 1000) * 1000)} in all`)
      this.current.setProgress(`[${parts.join(' · ')}]`)
    }
    this.ticker = setInterval(show, 1000)
    this.ticker.unref()
  }
}
