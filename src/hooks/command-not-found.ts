/**
 * An unknown command says what was meant: `clipper-ops rollot` → did you mean "rollout"? It
 * never runs the guess (a wrong guess at 3 a.m. could be a rollout); it exits 2, as for any
 * usage error.
 */
import type {Hook} from '@oclif/core'
import {EXIT} from '../lib/errors.js'
import {closest} from '../lib/util/closest.js'

const hook: Hook.CommandNotFound = async function (opts) {
  const shown = (id: string) => id.replaceAll(':', ' ')
  const ids = opts.config.commandIDs.filter((id) => !opts.config.findCommand(id)?.hidden)
  const typed = shown(opts.id)
  const guess = closest(typed, ids.map(shown)) ?? closest(typed.split(' ')[0]!, [...new Set(ids.map((id) => shown(id).split(' ')[0]!))])
  const topic = ids.filter((id) => id.startsWith(`${opts.id}:`) || id.startsWith(`${opts.id.split(':')[0]}:`)).map(shown)
  const lines = [`"${typed}" is not a ${opts.config.bin} command.`]
  if (guess) lines.push(`Did you mean "${opts.config.bin} ${guess}"?`)
  else if (topic.length) lines.push(`Commands under "${opts.id.split(':')[0]}": ${topic.join(', ')}.`)
  lines.push(`See all commands: ${opts.config.bin} --help`)
  this.error(lines.join('\n'), {exit: EXIT.usage})
}

export default hook
