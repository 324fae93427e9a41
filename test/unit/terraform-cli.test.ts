/**
 * Terraform's two failures an operator must read at 3 a.m., from terraform's own words: the
 * texts below are verbatim output of Terraform v1.11.4 against the sandbox (a lock held in the
 * DynamoDB table; a saved plan applied after the state moved). test/provision/ checks the same
 * against the live binary.
 */
import {describe, expect, it} from 'vitest'
import {isStalePlan, lockHeldError, parseLockError} from '../../src/lib/terraform/cli.js'

const LOCKED = `Error: Error acquiring the state lock

Error message: operation error DynamoDB: PutItem, https response error
StatusCode: 400, RequestID:
ddiHykehPQXgW0rcfgFwsEL7PNrg1glf2vxz2OYpcOACtzldCLNN,
ConditionalCheckFailedException: The conditional request failed
Lock Info:
  ID:        4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f
  Path:      clipper-sandbox-tfstate/clipper/sandbox-next.tfstate
  Operation: OperationTypeApply
  Who:       alex@build-7
  Version:   1.11.4
  Created:   2026-12-01 03:04:05.123456 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
`

const STALE = `
Warning: Deprecated Parameter

The parameter "dynamodb_table" is deprecated. Use parameter "use_lockfile"
instead.

Error: Saved plan is stale

The given plan file can no longer be applied because the state was changed by
another operation after the plan was created.
`

describe('terraform failures in plain words', () => {
  it('reads a held lock: its ID, holder, operation, path and since when', () => {
    expect(parseLockError(LOCKED)).toEqual({
      id: '4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f',
      path: 'clipper-sandbox-tfstate/clipper/sandbox-next.tfstate',
      operation: 'OperationTypeApply',
      who: 'alex@build-7',
      version: '1.11.4',
      created: '2026-12-01 03:04:05.123456 +0000 UTC',
    })
    expect(parseLockError(STALE)).toBeUndefined()
  })

  it('says who holds the lock and the exact force-unlock command, which it never runs', () => {
    const e = lockHeldError(parseLockError(LOCKED)!, {dir: 'infra/terraform', varFiles: [], vars: {}} as never)
    expect(e.message).toContain('locked by alex@build-7 since 2026-12-01 03:04:05.123456 +0000 UTC (lock ID 4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f, OperationTypeApply')
    expect(e.message).toContain('clipper-ops never breaks a state lock')
    expect(e.message).toContain('terraform -chdir=infra/terraform force-unlock 4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f')
  })

  it('knows a stale saved plan, and nothing else, as stale', () => {
    expect(isStalePlan(STALE)).toBe(true)
    expect(isStalePlan(LOCKED)).toBe(false)
  })
})
