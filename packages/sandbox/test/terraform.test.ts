/**
 * Terraform is the real binary, with the AWS provider from the local mirror (nothing is
 * downloaded), pointed at the sandbox by the sandbox environment's tools.env alone.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, test} from 'vitest'
import {useSandbox} from '../../../test/helpers/sandbox.js'

const sandbox = useSandbox()

describe('terraform against the sandbox', () => {
  test('init from the mirror, apply a record, read the RDS instance', async () => {
    const sb = sandbox()
    const dir = join(sb.cwd, 'tf')
    mkdirSync(dir)
    writeFileSync(
      join(dir, 'main.tf'),
      `terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  skip_credentials_validation = true
  skip_requesting_account_id  = true
}
resource "aws_route53_record" "status" {
  zone_id = "${sb.status.hostedZoneId}"
  name    = "status.clpr.tv"
  type    = "CNAME"
  ttl     = 60
  records = ["clpr.tv"]
}
data "aws_db_instance" "clipper" {
  db_instance_identifier = "clipper-sandbox"
}
output "engine" { value = data.aws_db_instance.clipper.engine_version }
`,
    )
    const env = {...sb.toolEnv(), TF_IN_AUTOMATION: '1', TF_INPUT: '0'}
    const init = await execa('terraform', ['init', '-no-color'], {cwd: dir, env, reject: false})
    expect(init.exitCode, init.stdout + init.stderr).toBe(0)
    expect(init.stdout).toMatch(/Installing hashicorp\/aws v[\d.]+/)
    const apply = await execa('terraform', ['apply', '-auto-approve', '-no-color'], {cwd: dir, env, reject: false})
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0)
    expect(apply.stdout).toContain('Apply complete! Resources: 1 added')
    expect(apply.stdout).toMatch(/engine = "16\./)
    const log = await sb.requests()
    expect(log.some((e) => e.operation === 'ChangeResourceRecordSets' && e.status === 200)).toBe(true)
  }, 120_000)
})
