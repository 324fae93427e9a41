/**
 * Which host shows a run: the task list on a terminal, plain lines otherwise (CI, pipes,
 * --output plain), a JSON-lines stream with --output json, and only warnings with --json (whose
 * result owns stdout). Hosts load lazily: listr2 only when there is a terminal to draw on.
 */
import type {EngineHost} from '../engine/events.js'

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
      const {ListrHost} = await import('./listr-host.js')
      return new ListrHost(o)
    }
    case 'json': {
      const {JsonLinesHost} = await import('./json-lines-host.js')
      return new JsonLinesHost(o)
    }
    default: {
      const {PlainHost} = await import('./plain-host.js')
      return new PlainHost({interactive: o.interactive, quiet: mode === 'quiet'})
    }
  }
}
