/**
 * What the engine tells the world, and how it asks a person. The engine renders nothing: it
 * emits typed events to the host it is given, and a host (the listr2 task list on a TTY, plain
 * lines, a JSON-lines stream, a recording in tests) shows them. The model is the AWS CDK
 * toolkit's IoHost: notify for messages, a request for answers.
 *
 * Events describe progress for people and machines; the durable record of a run is its journal
 * (./state.ts), not this stream.
 */
import type {Change} from '../steps/types.js'
import type {RunState, RunStatus} from './state.js'

/** A step as a host shows it before it runs. */
export interface AgendaStep {
  id: string
  title: string
  kind: string
  /** A failure of this step does not stop the run (onFailure: continue). */
  continues?: boolean
}

/** What a run will walk through, in order: single steps, and groups (a forEach iteration) of steps. */
export type AgendaItem = ({type: 'step'} & AgendaStep) | {type: 'group'; id: string; title: string; steps: AgendaStep[]}

export type EngineEvent =
  | {
      type: 'run.started'
      runId: string
      runbook: string
      environment?: string
      resumed: boolean
      runDir: string
      startedAt: string
      agenda: AgendaItem[]
      /** Set when a resumed run has only compensating steps left: it fails once they have run. */
      compensating?: {failedStepId: string}
      deadline?: {budgetMs: number; at: string; policy: 'continue' | 'fail'}
    }
  | {type: 'step.started'; runId: string; stepId: string; title: string; kind: string; attempt: number; group?: {id: string; title: string}}
  | {type: 'step.output'; runId: string; stepId: string; line: string}
  | {type: 'step.retrying'; runId: string; stepId: string; attempt: number; of: number; error: string; delayMs: number}
  /** A step an earlier attempt left in doubt (intent journaled, no result): checking, then a verdict. */
  | {type: 'step.in-doubt'; runId: string; stepId: string; verdict: 'checking' | 'done' | 'redo' | 'unknown'; detail?: string}
  | {type: 'step.succeeded'; runId: string; stepId: string; title: string; summary?: string; changes?: Change[]; durationMs: number; reconciled?: boolean}
  /** warning: skipped, and people should know (e.g. no database sync before a rollback). */
  | {type: 'step.skipped'; runId: string; stepId: string; title: string; reason: string; warning?: boolean}
  /** The step stopped the run without failing (an approval not given); the run ends interrupted. */
  | {type: 'step.paused'; runId: string; stepId: string; title: string; reason: string}
  | {
      type: 'step.failed'
      runId: string
      stepId: string
      title: string
      error: {message: string; code?: string}
      durationMs?: number
      /** The run goes on after it (onFailure: continue). */
      continues: boolean
      /** Compensating steps that run now, before the run stops. */
      compensation?: AgendaStep[]
    }
  | {type: 'deadline.exceeded'; runId: string; runbook: string; budgetMs: number; policy: 'continue' | 'fail'}
  | {
      type: 'run.finished'
      runId: string
      status: RunStatus
      exitCode: number
      durationMs?: number
      failure?: RunState['failure']
      /** Why an interrupted run stopped (a signal, a lost lock). */
      reason?: string
      reports: {markdown: string; junit: string; json: string}
    }

export type EngineEventType = EngineEvent['type']

/** A question for a person (an approval step). */
export interface ConfirmRequest {
  runId: string
  stepId: string
  message: string
  default: boolean
  timeoutMs?: number
  signal: AbortSignal
}

export interface EngineHost {
  notify(event: EngineEvent): void
  /**
   * Ask a person. A host with nobody to ask (no TTY, --no-input, CI) has no confirm: the
   * engine then never prompts, and a step that needs an answer stops the run resumably.
   */
  confirm?(request: ConfirmRequest): Promise<boolean>
  /** Finish rendering (the task list's last frame) before the command prints its summary. */
  close?(): Promise<void>
}
