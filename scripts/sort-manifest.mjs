// oclif writes the manifest's commands in the order it happens to discover them; sort them so
// that a build of the same commands writes the same file (and git shows no noise). Sorts the
// manifest of the package it runs in (the CLI's, which lists the bundled sandbox commands too).
import {readFileSync, writeFileSync} from 'node:fs'
import {resolve} from 'node:path'

const file = resolve(process.cwd(), 'oclif.manifest.json')
const m = JSON.parse(readFileSync(file, 'utf8'))
m.commands = Object.fromEntries(Object.entries(m.commands).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`)
