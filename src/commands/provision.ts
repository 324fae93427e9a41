import {Flags} from '@oclif/core'
import {RUN_EXIT_CODES} from '../lib/errors.js'
import {runFlags} from '../lib/flags.js'
import {RunbookCommand} from '../lib/runbook-command.js'

export default class Provision extends RunbookCommand<typeof Provision> {
  static override summary = 'Provision the platform: verify, plan and apply Terraform (the reviewed plan only), install the Helm releases, verify again.'
  static override description = `Runs the built-in provision runbook: verify --phase pre; terraform init; terraform plan to a file in the run's directory, with a review (replacements and deletions called out); an approval on a protected environment (or with --approve); terraform apply of exactly that plan; helm upgrade --install of each release in helm.releases (--wait, --rollback-on-failure: a failed upgrade is rolled back by helm, and the run says to which revision); verify --phase post.

--dry-run stops after the plans and prints them: the Terraform plan's review, and each Helm release's diff (rendered with a server dry run, compared with the deployed manifest: resources added, changed with their changed fields, removed). With --save-plan, the Terraform plan file and the rendered manifests are saved beside the plan (<file>.artifacts/); --plan applies exactly those, and is refused when the world has moved since. A Terraform state lock held by someone is reported with its holder and the force-unlock command; clipper-ops never breaks it.

${RUN_EXIT_CODES}`

  static override examples = [
    {description: 'The change review for a pull request', command: '<%= config.bin %> provision --env production --dry-run --output markdown'},
    {
      description: 'Save the reviewed plan, then apply exactly it',
      command: '<%= config.bin %> provision --env production --dry-run --save-plan plan.json && <%= config.bin %> provision --env production --plan plan.json --yes',
    },
    {
      description: 'Rehearse a first provision on the sandbox (its sandbox-next environment)',
      command: '<%= config.bin %> sandbox up && <%= config.bin %> provision --env sandbox-next --yes',
    },
  ]

  static override flags = {
    ...runFlags,
    env: Flags.string({char: 'e', summary: 'Environment in clipper-ops.yaml to provision (default: defaultEnvironment).', env: 'CLIPPER_OPS_ENV'}),
    approve: Flags.boolean({summary: 'Ask before applying the Terraform plan (always asked on a protected environment).'}),
  }

  async run(): Promise<unknown> {
    return this.runRunbook('provision', {approve: this.flags.approve})
  }
}
