import {OpsCommand} from '../../lib/command.js'
import {listBuiltinRunbooks, loadRunbook} from '../../lib/runbook/load.js'
import {knownKinds, loadKind} from '../../lib/steps/registry.js'

export default class RunbookList extends OpsCommand<typeof RunbookList> {
  static override summary = 'List the built-in runbooks and the step kinds a runbook can use.'
  static override examples = ['<%= config.bin %> runbook list', '<%= config.bin %> runbook list --json']

  async run(): Promise<unknown> {
    const runbooks = []
    for (const name of listBuiltinRunbooks()) {
      const {runbook, file} = await loadRunbook(name)
      runbooks.push({
        name,
        file,
        description: runbook.description?.trim().split('\n')[0] ?? '',
        environment: runbook.environment,
        deadline: runbook.deadline ?? null,
        parameters: Object.fromEntries(
          Object.entries(runbook.parameters).map(([k, p]) => [k, {type: p.type, required: p.required, default: p.default ?? null, description: p.description ?? ''}]),
        ),
        steps: runbook.steps.length,
      })
    }
    const kinds = []
    for (const k of knownKinds()) kinds.push({kind: k, description: (await loadKind(k)).description})
    if (!this.jsonEnabled()) {
      this.log('Built-in runbooks (run with: clipper-ops run <name>):')
      const w = Math.max(...runbooks.map((r) => r.name.length))
      for (const r of runbooks) this.log(`  ${r.name.padEnd(w)}  ${r.description}`)
      this.log('')
      this.log('Step kinds (uses: <kind>):')
      const kw = Math.max(...kinds.map((k) => k.kind.length))
      for (const k of kinds) this.log(`  ${k.kind.padEnd(kw)}  ${k.description}`)
    }
    return {runbooks, kinds}
  }
}
