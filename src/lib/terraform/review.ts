/**
 * A Terraform plan as a reviewer reads it, from `terraform show -json <planfile>`: what is
 * added, changed, replaced and destroyed — replacements and deletions called out loudly, since
 * they are where data is lost — with the attributes an update changes.
 */
import type {Change} from '../steps/types.js'

interface ResourceChange {
  address: string
  type: string
  change: {actions: string[]; before?: Record<string, unknown> | null; after?: Record<string, unknown> | null; after_unknown?: Record<string, unknown>; replace_paths?: unknown[]}
  action_reason?: string
}

export interface PlanJson {
  format_version?: string
  resource_changes?: ResourceChange[]
  output_changes?: Record<string, {actions: string[]}>
}

export type TfAction = 'add' | 'change' | 'replace' | 'destroy' | 'read' | 'no-op'

export interface ReviewedResource {
  address: string
  type: string
  action: TfAction
  /** For updates and replacements: the attributes that change (known before apply or not). */
  attributes: string[]
  reason?: string
}

export interface PlanReview {
  add: number
  change: number
  replace: number
  destroy: number
  resources: ReviewedResource[]
}

export function actionOf(actions: string[]): TfAction {
  const a = [...actions].sort().join(',')
  if (a === 'create') return 'add'
  if (a === 'update') return 'change'
  if (a === 'create,delete') return 'replace'
  if (a === 'delete') return 'destroy'
  if (a === 'read') return 'read'
  return 'no-op'
}

function changedAttributes(rc: ResourceChange): string[] {
  const before = rc.change.before ?? {}
  const after = rc.change.after ?? {}
  const unknown = rc.change.after_unknown ?? {}
  const keys = new Set([...Object.keys(before), ...Object.keys(after), ...Object.keys(unknown)])
  return [...keys]
    .filter((k) => k !== 'tags_all' && (unknown[k] === true || JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null)))
    .map((k) => (unknown[k] === true ? `${k} (known after apply)` : k))
    .sort()
}

export function reviewPlan(plan: PlanJson): PlanReview {
  const resources: ReviewedResource[] = []
  for (const rc of plan.resource_changes ?? []) {
    const action = actionOf(rc.change.actions)
    if (action === 'no-op' || action === 'read') continue
    resources.push({address: rc.address, type: rc.type, action, attributes: action === 'change' || action === 'replace' ? changedAttributes(rc) : [], reason: rc.action_reason})
  }
  const count = (a: TfAction) => resources.filter((r) => r.action === a).length
  return {add: count('add'), change: count('change'), replace: count('replace'), destroy: count('destroy'), resources}
}

/** One line: "12 to add, 1 to change, ⚠ 1 to REPLACE (aws_db_instance.main), 0 to destroy". */
export function reviewSummary(r: PlanReview): string {
  if (r.resources.length === 0) return 'no changes: the infrastructure matches the configuration'
  const loud = (n: number, word: string, a: TfAction) => {
    if (n === 0) return `0 to ${word.toLowerCase()}`
    const names = r.resources.filter((x) => x.action === a).map((x) => x.address)
    return `⚠ ${n} to ${word} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`
  }
  return `${r.add} to add, ${r.change} to change, ${loud(r.replace, 'REPLACE', 'replace')}, ${loud(r.destroy, 'DESTROY', 'destroy')}`
}

/** The review as changes for the plan table and the run report. */
export function reviewChanges(r: PlanReview): Change[] {
  const action = {add: 'create', change: 'update', replace: 'update', destroy: 'delete'} as const
  return r.resources.map((x) => ({
    action: action[x.action as keyof typeof action],
    target: x.address,
    detail:
      x.action === 'replace'
        ? `⚠ REPLACE (destroy and create${x.reason ? `: ${x.reason}` : ''}): ${x.attributes.join(', ')}`
        : x.action === 'destroy'
          ? '⚠ DESTROY'
          : x.attributes.length
            ? x.attributes.join(', ')
            : undefined,
  }))
}

/** Markdown for a change review: replacements and deletions first, under a warning. */
export function reviewMarkdown(r: PlanReview): string {
  if (r.resources.length === 0) return 'Terraform: no changes.'
  const out: string[] = [`**Terraform:** ${reviewSummary(r)}`, '']
  const dangerous = r.resources.filter((x) => x.action === 'replace' || x.action === 'destroy')
  if (dangerous.length) {
    out.push('> [!WARNING]', `> ${dangerous.length} resource(s) will be destroyed${r.replace ? ' (replacements destroy before they create)' : ''}: data on them is lost.`, '')
  }
  out.push('| Action | Resource | Attributes |', '|---|---|---|')
  const order: TfAction[] = ['destroy', 'replace', 'change', 'add']
  for (const a of order) {
    for (const x of r.resources.filter((y) => y.action === a)) {
      out.push(`| ${a === 'destroy' || a === 'replace' ? `**${a.toUpperCase()}**` : a} | \`${x.address}\` | ${x.attributes.join(', ').replace(/\|/g, '\\|')} |`)
    }
  }
  return out.join('\n')
}
