import {OpsCommand} from '../../../lib/command.js'
import {fishCompletion} from '../../../lib/completion/fish.js'

export default class AutocompleteScriptFish extends OpsCommand<typeof AutocompleteScriptFish> {
  static override summary = 'Print the fish completion script.'
  static override description = 'Built from the commands and flags of this version and its plugins. "autocomplete fish" says where to put it.'
  static override enableJsonFlag = false
  static override examples = [
    {description: 'Install it for your user', command: '<%= config.bin %> autocomplete script fish > $__fish_config_dir/completions/<%= config.bin %>.fish'},
  ]

  async run(): Promise<void> {
    this.log(fishCompletion(this.config).trimEnd())
  }
}
