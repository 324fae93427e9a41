/**
 * The README is a contract: its two commands are what CI runs, its config reference names every
 * field of the config schema, and its command reference is generated from the commands.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {configSchema} from '../../src/lib/config/schema.js'
import {ROOT} from '../helpers/cli.js'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** Leaf fields of a zod object schema as dotted paths (records as <name>, lists of objects as []). */
function fieldPaths(schema: any, prefix = ''): string[] {
  let s = schema
  for (let i = 0; i < 10; i++) {
    const def = s?._zod?.def
    if (!def) break
    if (['optional', 'nullable', 'default', 'prefault', 'readonly'].includes(def.type)) s = def.innerType
    else if (def.type === 'pipe') s = def.in
    else break
  }
  const def = s?._zod?.def
  if (def?.type === 'object') return Object.entries(def.shape).flatMap(([k, v]) => fieldPaths(v, prefix ? `${prefix}.${k}` : k))
  if (def?.type === 'record') return fieldPaths(def.valueType, `${prefix}.<name>`)
  if (def?.type === 'array' && def.element?._zod?.def?.type === 'object') return fieldPaths(def.element, `${prefix}[]`)
  return [prefix]
}

describe('README', () => {
  test('.ci/run runs the README install and test command verbatim', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8')
    const testCommand = ci
      .split('\n')
      .find((l) => l.includes('npm test'))!
      .trim()
    expect(readme).toContain(`\n${testCommand}\n`)
  })

  test('the config reference names every field of the schema', () => {
    // A leaf is documented by its own path in backticks, or — for nested parts such as a
    // target's alias — by its name in backticks in the row of its parent.
    const missing = fieldPaths(configSchema)
      .map((p) => p.replace(/^environments\.<name>\./, '').replace(/\.<name>$/, ''))
      .filter((p) => {
        if (readme.includes(`\`${p}\``)) return false
        const parts = p.replace(/\[\]/g, '').split('.')
        const row = readme.split('\n').find((l) => l.startsWith('| `') && parts.slice(0, 2).every((x) => l.includes(x)))
        return !(row && row.includes(`\`${parts.at(-1)}\``))
      })
    expect(missing).toEqual([])
  })

  test('the command reference is generated and current', () => {
    const commands = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands as Record<string, {hidden?: boolean; pluginName?: string}>
    const ids = Object.keys(commands).filter((id) => !commands[id]!.hidden)
    expect(ids).toContain('sandbox:rehearse')
    for (const id of ids) {
      expect(readme, `README lacks ${id}; run npm run readme`).toContain(`## \`clipper-ops ${id.split(':').join(' ')}`)
    }
  })
})
