# Customer-managed key for data at rest: RDS storage, the uploads bucket, the backup vault.
resource "aws_kms_key" "data" {
  description             = "${local.prefix} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = { Name = "${local.prefix}-data" }
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}
