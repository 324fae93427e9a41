import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'

/** A file's sha256 (hex): what a reviewed artifact is checked against before it is applied. */
export async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
}
