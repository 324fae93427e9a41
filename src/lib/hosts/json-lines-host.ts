/**
 * --output json: one JSON object per engine event on stdout, each with its run id and time, so
 * CI can follow a run and tie it to `runs show`. The last line (run.finished) names the reports.
 */
import type {EngineEvent, EngineHost} from '../engine/events.js'
import {confirmOnTerminal} from './terminal.js'

export class JsonLinesHost implements EngineHost {
  readonly confirm

  constructor(
    opts: {interactive?: boolean} = {},
    private readonly write: (text: string) => void = (t) => process.stdout.write(t),
  ) {
    this.confirm = opts.interactive ? confirmOnTerminal : undefined
  }

  notify(e: EngineEvent): void {
    this.write(`${JSON.stringify({at: new Date().toISOString(), ...e})}\n`)
  }
}
