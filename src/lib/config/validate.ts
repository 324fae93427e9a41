/**
 * Validating clipper-ops.yaml: the YAML parser and the zod schema, which load.ts takes only for a
 * config its cache has not seen (one module, so one chunk of the bundle for the two).
 */
import {InvalidFileError} from '../errors.js'
import {closest} from '../util/closest.js'
import {parseAndValidate} from '../util/yaml-file.js'
import {configSchema, type Config} from './schema.js'

/** The config in `source` (the text of `file`), or an InvalidFileError naming each problem. */
export function validateConfig(file: string, source: string): Config {
  const {data, locate} = parseAndValidate(file, source, configSchema, 'Config file')
  if (data.defaultEnvironment && !(data.defaultEnvironment in data.environments)) {
    const names = Object.keys(data.environments)
    const hint = closest(data.defaultEnvironment, names)
    throw new InvalidFileError(`Config file ${file}`, [
      {
        file,
        path: 'defaultEnvironment',
        ...locate(['defaultEnvironment']),
        message: `names "${data.defaultEnvironment}", which is not an environment here${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${names.join(', ')}`,
      },
    ])
  }
  return data
}
