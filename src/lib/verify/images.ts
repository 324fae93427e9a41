/**
 * The container images a Helm release will run, read from its values the way charts commonly
 * name them: an `image` map with `repository` and `tag` (the `helm create` layout), or an
 * `image: repo:tag` string — in the chart's own values.yaml merged with the release's files.
 */
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {parse} from 'yaml'
import type {Environment} from '../config/schema.js'

export interface ImageRef {
  image: string
  repository: string
  tag: string
  /** An ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/<name>): the part after the host. */
  ecr: boolean
  from: string
}

const ECR_HOST = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//

function refOf(image: string, tag: string | undefined, from: string): ImageRef | undefined {
  let repo = image
  let t = tag
  if (t === undefined) {
    const at = image.lastIndexOf(':')
    if (at <= image.lastIndexOf('/')) return undefined // no tag: nothing to look up
    repo = image.slice(0, at)
    t = image.slice(at + 1)
  }
  if (!t) return undefined
  const ecr = ECR_HOST.test(repo)
  return {image: `${repo}:${t}`, repository: ecr ? repo.replace(ECR_HOST, '') : repo, tag: t, ecr, from}
}

function collect(node: unknown, from: string, out: ImageRef[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, from, out)
    return
  }
  if (!node || typeof node !== 'object') return
  const o = node as Record<string, unknown>
  if (typeof o.repository === 'string' && (typeof o.tag === 'string' || typeof o.tag === 'number')) {
    const ref = refOf(o.repository, String(o.tag), from)
    if (ref) out.push(ref)
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'image' && typeof v === 'string') {
      const ref = refOf(v, undefined, from)
      if (ref) out.push(ref)
    } else collect(v, from, out)
  }
}

/** Values files merged as helm merges them: maps deeply, anything else replaced by the later file. */
function merge(a: unknown, b: unknown): unknown {
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) || Array.isArray(b)) return b === undefined ? a : b
  const out: Record<string, unknown> = {...(a as Record<string, unknown>)}
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v)
  return out
}

/** The images of every release: its chart's values.yaml, then its values files, merged. */
export async function imagesOfReleases(env: Environment): Promise<ImageRef[]> {
  const found = new Map<string, ImageRef>()
  for (const r of env.helm?.releases ?? []) {
    const files = [...(existsSync(join(r.chart, 'values.yaml')) ? [join(r.chart, 'values.yaml')] : []), ...r.values]
    let values: unknown = {}
    for (const f of files) values = merge(values, parse(await readFile(f, 'utf8')))
    const refs: ImageRef[] = []
    collect(values, `release ${r.name} (${files.join(', ') || 'no values'})`, refs)
    for (const ref of refs) found.set(`${ref.repository}:${ref.tag}`, ref)
  }
  return [...found.values()]
}
