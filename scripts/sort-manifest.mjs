// oclif writes the manifest's commands in the order it happens to discover them; sort them so
// that a build of the same commands writes the same file (and git shows no noise).
import {readFileSync, writeFileSync} from 'node:fs'

const file = new URL('../oclif.manifest.json', import.meta.url)
const m = JSON.parse(readFileSync(file, 'utf8'))
m.commands = Object.fromEntries(Object.entries(m.commands).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`)
