/**
 * Every AWS call that reached the front, in arrival order. Tests read it to prove what a run did
 * (a dry run: no entry with mutating = true).
 */
import {createWriteStream, type WriteStream} from 'node:fs'

export interface RequestLogEntry {
  /** When the request arrived (ISO 8601). */
  time: string
  service: string
  operation: string
  method: string
  path: string
  /** The HTTP status answered; 0 while in flight or when the connection was dropped. */
  status: number
  mutating: boolean
  /** The fault injected into this request, if any (e.g. "throttle", "latency:200ms"). */
  fault?: string
  /** For Route 53 change batches: what each change touches, e.g. "DELETE clpr.tv. A compose w=100". */
  changes?: string[]
  /** For Route 53 change batches: the batch's Comment (clipper-ops puts its run id and step there). */
  comment?: string
}

export class RequestLog {
  readonly entries: RequestLogEntry[] = []
  private readonly file?: WriteStream

  constructor(logFile?: string) {
    if (logFile) this.file = createWriteStream(logFile, {flags: 'a'})
  }

  /** Adds an entry at arrival, so the order is the order requests came in. */
  start(entry: Omit<RequestLogEntry, 'status'>): RequestLogEntry {
    const full: RequestLogEntry = {...entry, status: 0}
    this.entries.push(full)
    return full
  }

  /** Records the outcome and appends the finished entry to the log file as one JSON line. */
  finish(entry: RequestLogEntry, status: number): void {
    entry.status = status
    this.file?.write(`${JSON.stringify(entry)}\n`)
  }

  /** Entries that arrived at or after `since` (an ISO time); all when omitted. */
  since(since?: string): RequestLogEntry[] {
    if (!since) return [...this.entries]
    const t = Date.parse(since)
    if (Number.isNaN(t)) throw new Error(`not an ISO time: ${since}`)
    return this.entries.filter((e) => Date.parse(e.time) >= t)
  }

  async close(): Promise<void> {
    const file = this.file
    if (!file) return
    await new Promise<void>((resolve) => file.end(resolve))
  }
}
