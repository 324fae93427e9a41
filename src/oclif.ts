// What bin/run.js starts when the fast help path (bin/help.js) does not answer: oclif, taken from
// the bundle's chunks so that it is the same @oclif/core as the commands'.
export {execute} from '@oclif/core'
