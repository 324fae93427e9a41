/**
 * A host for tests: keeps every event, and answers questions from a script (or has nobody to
 * ask, like a host without a TTY).
 */
import type {ConfirmRequest, EngineEvent, EngineEventType, EngineHost} from '../engine/events.js'

export class RecordingHost implements EngineHost {
  readonly events: EngineEvent[] = []
  readonly asked: ConfirmRequest[] = []
  readonly confirm?: (request: ConfirmRequest) => Promise<boolean>

  /** `answers`: what a person answers, in order; a function may also throw (a closed prompt). */
  constructor(answers?: (boolean | ((request: ConfirmRequest) => Promise<boolean>))[]) {
    if (answers) {
      this.confirm = async (request) => {
        this.asked.push(request)
        const next = answers.shift()
        if (next === undefined) throw new Error(`RecordingHost: nobody scripted an answer to "${request.message}"`)
        return typeof next === 'function' ? next(request) : next
      }
    }
  }

  notify(e: EngineEvent): void {
    this.events.push(structuredClone(e))
  }

  of<T extends EngineEventType>(type: T): Extract<EngineEvent, {type: T}>[] {
    return this.events.filter((e): e is Extract<EngineEvent, {type: T}> => e.type === type)
  }

  /** The event types in order, e.g. for "what happened to step X". */
  types(stepId?: string): string[] {
    return this.events.filter((e) => !stepId || ('stepId' in e && e.stepId === stepId)).map((e) => e.type)
  }
}
