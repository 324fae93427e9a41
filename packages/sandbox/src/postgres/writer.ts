/**
 * Traffic on the primary while the sandbox runs: one clip view about every 500 ms, stamped by
 * the server (`viewed_at default now()`). It is what makes a restore's RPO measurable: the newest
 * `viewed_at` in a restored copy says which point in time it holds. A database that goes away
 * is retried quietly; it never takes the daemon down.
 */
import type pg from 'pg'
import {connect, type Login} from './cluster.js'
import {SEED_COUNTS} from './clipper-data.js'

export class ViewWriter {
  private client?: pg.Client
  private timer?: NodeJS.Timeout
  private stopped = false
  private failing = false
  written = 0
  private wroteFirst!: () => void
  /** Settles on the first row written: a backup taken after it holds the sandbox's start. */
  readonly firstRow = new Promise<void>((resolve) => (this.wroteFirst = resolve))

  constructor(
    private readonly login: Login,
    private readonly log: (line: string) => void,
    private readonly everyMs = 500,
  ) {}

  start(): void {
    this.schedule(0)
  }

  private inFlight?: Promise<void>

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => (this.inFlight = this.tick()), ms)
  }

  private async tick(): Promise<void> {
    const started = Date.now()
    try {
      if (!this.client) {
        const c = await connect(this.login, () => this.drop())
        if (this.stopped) {
          await c.end().catch(() => undefined)
          return
        }
        this.client = c
      }
      await this.client.query('insert into clip_views (clip_id) values ($1)', [1 + Math.floor(Math.random() * SEED_COUNTS.clips)])
      this.written++
      this.wroteFirst()
      if (this.failing) this.log('postgres writer: writing again')
      this.failing = false
    } catch (e) {
      // Said once per outage, not every 500 ms.
      if (!this.failing && !this.stopped) this.log(`postgres writer: ${(e as Error).message} (retrying)`)
      this.failing = true
      this.drop()
    }
    this.schedule(Math.max(0, this.everyMs - (Date.now() - started)))
  }

  private drop(): void {
    const c = this.client
    this.client = undefined
    void c?.end().catch(() => undefined)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.inFlight
    const c = this.client
    this.client = undefined
    await c?.end().catch(() => undefined)
  }
}
