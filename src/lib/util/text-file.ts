/**
 * Reading a config or runbook file as text, refusing what is not one (a directory, a FIFO, a
 * binary, a file too large) with a message that names the file. Kept apart from the YAML parser
 * (yaml-file.ts), which a command with a cached config never loads (src/lib/config/load.ts).
 */
import {readFileSync, statSync} from 'node:fs'
import {InvalidFileError, UsageError} from '../errors.js'

/** Larger than any config or runbook a person writes: refused before it is read into memory. */
const MAX_FILE_BYTES = 4 * 1024 * 1024

export function readTextFile(file: string, what: string): string {
  try {
    // A FIFO or a device would block or never end: only regular files are read.
    const st = statSync(file)
    if (st.isDirectory()) throw new UsageError(`${what} ${file} is a directory, not a file.`, {code: 'FILE_NOT_FOUND'})
    if (!st.isFile()) throw new UsageError(`${what} ${file} is not a regular file (a FIFO, socket or device); give the path of a YAML file.`, {code: 'FILE_UNREADABLE'})
    if (st.size > MAX_FILE_BYTES) {
      throw new UsageError(`${what} ${file} is ${(st.size / 1024 / 1024).toFixed(1)} MB; a ${what.toLowerCase()} is at most ${MAX_FILE_BYTES / 1024 / 1024} MB.`, {
        code: 'FILE_TOO_LARGE',
      })
    }
    const text = readFileSync(file, 'utf8')
    if (text.includes('\u0000')) throw new InvalidFileError(`${what} ${file}`, [{file, path: '', message: 'is a binary file, not YAML text (it holds NUL bytes)'}])
    return text
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidFileError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UsageError(`${what} ${file} does not exist.`, {code: 'FILE_NOT_FOUND'})
    if (code === 'EISDIR') throw new UsageError(`${what} ${file} is a directory, not a file.`, {code: 'FILE_NOT_FOUND'})
    throw new UsageError(`${what} ${file} cannot be read: ${(error as Error).message}`, {code: 'FILE_UNREADABLE'})
  }
}
