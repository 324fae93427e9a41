/**
 * The drill scheduled in CI: a GitHub Actions workflow — a weekly schedule and manual dispatch,
 * AWS credentials by OIDC (no stored keys), a concurrency group so two drills never overlap, the
 * three reports uploaded and the step summary filled (the drill appends report.md to
 * $GITHUB_STEP_SUMMARY), and a sweep of what a killed drill left.
 */
import {stringify} from 'yaml'

export interface WorkflowOptions {
  env: string
  region: string
  roleArn: string
  cron: string
  /** What npx runs, e.g. clipper-ops@0.1.0 (pinned: a drill must not change tool under you). */
  packageSpec: string
  /** The drill's own time limit plus room for setup and cleanup. */
  timeoutMinutes: number
}

export function drillWorkflow(o: WorkflowOptions): string {
  const cli = `npx --yes ${o.packageSpec}`
  const workflow = {
    name: `DR drill (${o.env})`,
    on: {schedule: [{cron: o.cron}], workflow_dispatch: {}},
    permissions: {'id-token': 'write', contents: 'read'},
    concurrency: {group: `dr-drill-${o.env}`, 'cancel-in-progress': false},
    jobs: {
      drill: {
        'runs-on': 'ubuntu-latest',
        'timeout-minutes': o.timeoutMinutes,
        env: {CLIPPER_OPS_ENV: o.env, NO_COLOR: '1', CI: 'true'},
        steps: [
          {uses: 'actions/checkout@v4'},
          {uses: 'actions/setup-node@v4', with: {'node-version': '24'}},
          {name: 'AWS credentials (OIDC)', uses: 'aws-actions/configure-aws-credentials@v4', with: {'role-to-assume': o.roleArn, 'aws-region': o.region}},
          {name: 'Sweep what earlier drills left', run: `${cli} dr cleanup --older-than 2h --yes`},
          {name: 'DR drill', run: `${cli} dr drill --yes --no-input --report-dir dr-reports`},
          {name: 'Drill history', if: 'always()', run: `${cli} dr history --output markdown >> "$GITHUB_STEP_SUMMARY"`},
          {name: 'Reports', if: 'always()', uses: 'actions/upload-artifact@v4', with: {name: `dr-drill-${o.env}`, path: 'dr-reports/'}},
        ],
      },
    },
  }
  return `# Written by "clipper-ops dr schedule --ci github"; regenerate it rather than edit it.\n${stringify(workflow, {lineWidth: 0})}`
}
