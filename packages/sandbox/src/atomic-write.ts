import {closeSync, fsyncSync, openSync, renameSync, writeSync} from 'node:fs'
import {randomBytes} from 'node:crypto'

/** Write a file whole or not at all (temp file, fsync, rename): readers never see half of sandbox.json. */
export function atomicWriteFile(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}
