/**
 * A run's timeline, from its state: when each step ran (offsets from the run's start) and, for
 * runs that shift traffic, the weights over time. Rendered three ways from one model: a Mermaid
 * gantt and a Mermaid xychart for report.md (GitHub renders both), and plain lines for
 * `runs show`.
 *
 * Weights come from the `dns-weights` steps' records: `outputs.before` / `outputs.after` at the
 * step's end. A step that was cut short (running, in doubt) contributes the weights it meant to
 * set, marked in doubt; the live weights read back when the run ended (`world`) close the line.
 */
import type {RunState, StepRecord, StepStatus} from '../engine/state.js'
import {formatDuration} from '../util/duration.js'

export interface TimelineStep {
  id: string
  title: string
  kind: string
  status: StepStatus
  /** The section the step is drawn in: its group's title, the compensation, or the runbook. */
  section: string
  group?: string
  compensationFor?: string
  /** Offset of the step's start from the run's start; absent for a step that never started. */
  offsetMs?: number
  /** Wall time from start to end (all attempts; an unfinished step runs to the run's last event). */
  elapsedMs?: number
  /** The engine's measure of the last attempt. */
  durationMs?: number
}

export interface WeightPoint {
  at: string
  offsetMs: number
  legacy: number
  kubernetes: number
  /** Kubernetes' share of the traffic, in % (Route 53: weight / sum; all-zero is an equal split). */
  kubernetesPercent: number
  /** The step that set them; absent for the weights the run started from or read back at its end. */
  stepId?: string
  source: 'before' | 'step' | 'in-doubt' | 'read-back'
}

export interface Timeline {
  startedAt: string
  /** The run's end, or its last event while it is still running. */
  endedAt: string
  steps: TimelineStep[]
  weights: WeightPoint[]
}

const ms = (iso?: string): number | undefined => {
  const t = iso === undefined ? NaN : Date.parse(iso)
  return Number.isFinite(t) ? t : undefined
}

function sectionOf(s: RunState, st: StepRecord): string {
  if (st.compensationFor) {
    const failed = s.steps.find((x) => x.id === st.compensationFor)
    return `↩ after ${failed?.title ?? st.compensationFor} failed`
  }
  return st.group ? st.group.title || st.group.id : s.runbook.name
}

function weightsOf(v: unknown): {legacy: number; kubernetes: number} | undefined {
  if (!v || typeof v !== 'object') return undefined
  const w = v as Record<string, unknown>
  const legacy = typeof w.legacy === 'number' ? w.legacy : undefined
  const kubernetes = typeof w.kubernetes === 'number' ? w.kubernetes : undefined
  if (legacy === undefined && kubernetes === undefined) return undefined
  // A weighted record that is missing is not served: it counts as weight 0.
  return {legacy: legacy ?? 0, kubernetes: kubernetes ?? 0}
}

export function kubernetesPercent(w: {legacy: number; kubernetes: number}): number {
  const total = w.legacy + w.kubernetes
  return total === 0 ? 50 : Math.round((w.kubernetes / total) * 1000) / 10
}

function weightPoints(s: RunState, start: number, end: number): WeightPoint[] {
  const points: WeightPoint[] = []
  const push = (atMs: number, w: {legacy: number; kubernetes: number}, source: WeightPoint['source'], stepId?: string) => {
    const last = points.at(-1)
    // A step that found the weights already in place adds nothing to the line.
    if (last && last.source !== 'in-doubt' && source !== 'in-doubt' && last.legacy === w.legacy && last.kubernetes === w.kubernetes) return
    points.push({at: new Date(atMs).toISOString(), offsetMs: atMs - start, ...w, kubernetesPercent: kubernetesPercent(w), source, ...(stepId ? {stepId} : {})})
  }
  for (const st of s.steps.filter((x) => x.kind === 'dns-weights')) {
    if (st.status === 'succeeded') {
      const before = weightsOf(st.outputs?.before)
      const after = weightsOf(st.outputs?.after)
      // The run started from whatever was live: the first change's `before`, from the run's start.
      if (points.length === 0 && before) push(start, before, 'before')
      if (after) push(ms(st.endedAt) ?? end, after, 'step', st.id)
    } else if (st.status === 'running') {
      // In doubt: the batch may or may not have gone through; show what it meant to set.
      const before = weightsOf(st.notes?.before)
      if (points.length === 0 && before) push(start, before, 'before')
      const meant = weightsOf(st.inputs)
      if (meant) push(ms(st.startedAt) ?? end, meant, 'in-doubt', st.id)
    }
  }
  const live = s.world?.find((x) => x.kind === 'dns-weights' && !x.error)
  const read = weightsOf(live?.data?.weights)
  if (read && points.length) {
    const last = points.at(-1)!
    if (last.source === 'in-doubt' || last.legacy !== read.legacy || last.kubernetes !== read.kubernetes) push(ms(live!.at) ?? end, read, 'read-back')
  }
  return points
}

export function buildTimeline(s: RunState): Timeline {
  const start = ms(s.createdAt) ?? 0
  const end = ms(s.endedAt) ?? ms(s.updatedAt) ?? start
  const steps = s.steps.map((st): TimelineStep => {
    const from = ms(st.startedAt)
    // A step that started and has not ended (in doubt, or an approval the run stopped at) is
    // drawn up to the run's last event.
    const to = ms(st.endedAt) ?? (from !== undefined ? end : undefined)
    return {
      id: st.id,
      title: st.title,
      kind: st.kind,
      status: st.status,
      section: sectionOf(s, st),
      ...(st.group ? {group: st.group.id} : {}),
      ...(st.compensationFor ? {compensationFor: st.compensationFor} : {}),
      ...(from !== undefined ? {offsetMs: from - start} : {}),
      ...(from !== undefined && to !== undefined ? {elapsedMs: Math.max(0, to - from)} : {}),
      ...(st.durationMs !== undefined ? {durationMs: st.durationMs} : {}),
    }
  })
  return {startedAt: new Date(start).toISOString(), endedAt: new Date(end).toISOString(), steps, weights: weightPoints(s, start, end)}
}

// --- Mermaid ---------------------------------------------------------------------------------

/**
 * Text that Mermaid reads as data, never as syntax. In a gantt a task's name ends at ":", and
 * "#", ";" and "%" start comments, entities and directives; Mermaid's own escape is the entity
 * code (#58; for ":"), which it turns back into the character when it draws. A name that begins
 * with a keyword of the gantt grammar (title, section, click, a date…) would be read as that
 * statement, so its first character is written as an entity too.
 */
export function mermaidText(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  let out = flat.replace(/[#:;%"]/g, (c) => `#${c.charCodeAt(0)};`)
  if (
    /^(?:accTitle|accDescr|href|call|click|gantt|dateFormat|inclusiveEndDates|topAxis|axisFormat|tickInterval|includes|excludes|todayMarker|weekday|weekend|title|section)\b|^\d{4}-\d\d-\d\d/i.test(
      out,
    )
  ) {
    out = `#${out.codePointAt(0)};${out.slice(String.fromCodePoint(out.codePointAt(0)!).length)}`
  }
  return out
}

/** Text for a quoted string of an xychart: only a quote (or an entity's "#") could break out of it. */
export function mermaidString(text: string): string {
  return `"${text.replace(/\s+/g, ' ').replace(/[#"]/g, (c) => `#${c.charCodeAt(0)};`)}"`
}

const TAG: Partial<Record<StepStatus, string>> = {succeeded: 'done', failed: 'crit', running: 'active', pending: 'active'}

/** The steps as a Mermaid gantt (the block's body, without the fence). */
export function ganttMermaid(s: RunState, t: Timeline = buildTimeline(s)): string {
  const start = Date.parse(t.startedAt)
  const lines = [
    'gantt',
    `  title ${mermaidText(`${s.runbook.name}${s.environment ? ` on ${s.environment}` : ''} — ${s.status}`)}`,
    // Milliseconds since the epoch: exact, and no date format to get wrong.
    '  dateFormat x',
    '  axisFormat %H:%M:%S',
    // A past run drawn beside today's date would be a sliver at the edge of a long axis.
    '  todayMarker off',
  ]
  let section: string | undefined
  // Mermaid draws sections of the same name as one band: a name that comes back gets a number.
  const seen = new Map<string, number>()
  for (const st of t.steps) {
    // Steps that never ran (skipped, not reached) took no time: the text timeline lists them.
    if (st.offsetMs === undefined || st.elapsedMs === undefined) continue
    if (st.section !== section) {
      section = st.section
      const n = (seen.get(section) ?? 0) + 1
      seen.set(section, n)
      lines.push(`  section ${mermaidText(n > 1 ? `${section} (${n})` : section) || '-'}`)
    }
    const from = start + st.offsetMs
    const tag = TAG[st.status]
    lines.push(`  ${mermaidText(st.title) || mermaidText(st.id)} :${tag ? `${tag}, ` : ''}${from}, ${from + st.elapsedMs}`)
  }
  return lines.join('\n')
}

/** Elapsed time as m:ss (h:mm:ss past an hour), with tenths or milliseconds when asked. */
export function clock(offsetMs: number, digits: 0 | 1 | 3 = 0): string {
  const neg = offsetMs < 0 ? '-' : ''
  // Whole milliseconds, in integers: no floating-point rounding into the next second.
  const v = Math.abs(Math.round(offsetMs))
  const h = Math.floor(v / 3_600_000)
  const m = Math.floor((v % 3_600_000) / 60_000)
  const s = Math.floor((v % 60_000) / 1000)
  const frac = digits === 0 ? '' : `.${String(Math.floor((v % 1000) / 10 ** (3 - digits))).padStart(digits, '0')}`
  const ss = `${String(s).padStart(2, '0')}${frac}`
  return h ? `${neg}${h}:${String(m).padStart(2, '0')}:${ss}` : `${neg}${String(m).padStart(2, '0')}:${ss}`
}

/**
 * Labels for the chart's x axis. The axis is a list of categories, and equal labels would fold
 * two points into one, so the labels get finer until they differ (several changes in a second).
 */
export function elapsedLabels(offsets: number[]): string[] {
  for (const digits of [0, 1, 3] as const) {
    const labels = offsets.map((o) => clock(o, digits))
    if (new Set(labels).size === labels.length) return labels
  }
  return offsets.map((o, i) => `${clock(o, 3)} (${i + 1})`)
}

/** The weights over time as a Mermaid xychart (the block's body), when the run shifted traffic. */
export function weightsMermaid(t: Timeline): string | undefined {
  const points = t.weights.filter((p) => p.source !== 'in-doubt')
  if (points.length < 2) return undefined
  const labels = elapsedLabels(points.map((p) => p.offsetMs))
  return [
    // xychart-beta, not xychart: the name every Mermaid since 10.5 accepts, GitHub's included.
    'xychart-beta',
    `  title ${mermaidString('Traffic to Kubernetes (% of DNS weight) over elapsed time')}`,
    `  x-axis [${labels.map(mermaidString).join(', ')}]`,
    `  y-axis ${mermaidString('kubernetes %')} 0 --> 100`,
    `  line [${points.map((p) => p.kubernetesPercent).join(', ')}]`,
  ].join('\n')
}

/** The "## Timeline" section of report.md (its lines): the gantt, then the weights chart when there is one. */
export function timelineMarkdown(s: RunState): string[] {
  const t = buildTimeline(s)
  const out = ['## Timeline', '']
  if (!t.steps.some((x) => x.elapsedMs !== undefined)) return [...out, 'No step ran.']
  out.push('```mermaid', ganttMermaid(s, t), '```')
  const chart = weightsMermaid(t)
  if (chart) out.push('', 'Weights over time:', '', '```mermaid', chart, '```', '', weightsLine(t))
  return out
}

// --- Text ------------------------------------------------------------------------------------

const MARK: Record<StepStatus, string> = {succeeded: '✔', failed: '✖', skipped: '↷', running: '?', pending: '·'}

/** `00:00 legacy 100/k8s 0 → 00:12 90/10 → …` ("?" marks weights a cut-short step meant to set). */
export function weightsLine(t: Timeline): string {
  return t.weights
    .map((p, i) => {
      const w = i === 0 ? `legacy ${p.legacy}/k8s ${p.kubernetes}` : `${p.legacy}/${p.kubernetes}`
      const note = p.source === 'in-doubt' ? ' (in doubt)' : p.source === 'read-back' ? ' (read back)' : ''
      return `${clock(p.offsetMs)} ${w}${note}`
    })
    .join(' → ')
}

/** The timeline for a terminal: one line per step (offset, duration, status, title), then the weights. */
export function timelineText(s: RunState, t: Timeline = buildTimeline(s)): string[] {
  const lines = [`Timeline (from ${t.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}):`]
  // Tenths: many steps take less than a second.
  const offsets = t.steps.map((st) => (st.offsetMs === undefined ? '' : `+${clock(st.offsetMs, 1)}`))
  const durations = t.steps.map((st) => {
    const d = st.durationMs ?? st.elapsedMs
    return d === undefined ? '' : formatDuration(d)
  })
  const ow = Math.max(8, ...offsets.map((x) => x.length))
  const dw = Math.max(4, ...durations.map((x) => x.length))
  let group: string | undefined
  t.steps.forEach((st, i) => {
    const inGroup = st.group !== undefined || st.compensationFor !== undefined
    if (inGroup && st.section !== group) lines.push(`  ${st.section}`)
    group = inGroup ? st.section : undefined
    const note =
      st.status === 'running'
        ? ' (in doubt: started, result not recorded)'
        : st.status === 'pending'
          ? st.offsetMs === undefined
            ? ' (not reached)'
            : ' (stopped here; runs again on resume)'
          : ''
    lines.push(`  ${offsets[i]!.padEnd(ow)} ${durations[i]!.padStart(dw)}  ${MARK[st.status]} ${inGroup ? '  ' : ''}${st.title}${note}`)
  })
  if (t.weights.length) lines.push(`Weights (legacy/kubernetes): ${weightsLine(t)}`)
  return lines
}
