# Partial configuration: bucket, key, region, dynamodb_table (and, for an
# emulator, endpoints / skip_* / use_path_style) come from
#   terraform init -backend-config=<env>.s3.tfbackend
# The state bucket and the lock table (hash key LockID) exist before init.
terraform {
  backend "s3" {}
}
