/**
 * Which host shows a run: the task list on a terminal, plain lines otherwise (CI, pipes,
 * --output plain), a JSON-lines stream with --output json, and only warnings with --json (whose
 * result owns stdout). listr2 loads only when there is a terminal to draw on (inside ListrHost).
 */
import type {EngineHost} from '../engine/events.js'
import {ListrHost} from './listr-host.js'
import {JsonLinesHost} from './json-lines-host.js'
import {PlainHost} from './plain-host.js'

export type HostMode = 'tty' | 'plain' | 'json' | 'quiet'

export function hostMode(o: {output?: string; json: boolean}): HostMode {
  if (o.output === 'json') return 'json'
  if (o.json) return 'quiet'
  if (o.output === 'plain') return 'plain'
  return process.stderr.isTTY && !process.env.CI ? 'tty' : 'plain'
}

export async function createHost(mode: HostMode, o: {interactive: boolean}): Promise<EngineHost> {
  switch (mode) {
    case 'tty': {
      return new ListrHost(o)
    }
    case 'json': {
      return new JsonLinesHost(o)
    }
    default: {
      return new PlainHost({interactive: o.interactive, quiet: mode === 'quiet'})
    }
  }
}
