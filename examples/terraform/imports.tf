# Adoption: resources made beforehand (e.g. seeded with an SDK) are imported,
# not created, when their id is in var.adopt. Empty by default.
#   vpc, private_subnet_<a|b|c>, public_subnet_<a|b|c>  => vpc-… / subnet-…
#   db_subnet_group, db_security_group, db_parameter_group, db_instance
#   eks_cluster_role, eks_cluster, uploads_bucket, data_kms_key
locals {
  adopt_one = { for k in [
    "vpc", "db_subnet_group", "db_security_group", "db_parameter_group", "db_instance",
    "eks_cluster_role", "eks_cluster", "uploads_bucket", "data_kms_key",
  ] : k => lookup(var.adopt, k, null) }
  adopt_private = { for k, v in var.adopt : trimprefix(k, "private_subnet_") => v if startswith(k, "private_subnet_") }
  adopt_public  = { for k, v in var.adopt : trimprefix(k, "public_subnet_") => v if startswith(k, "public_subnet_") }
}

import {
  for_each = local.adopt_one.vpc == null ? [] : [local.adopt_one.vpc]
  to       = aws_vpc.this
  id       = each.value
}

import {
  for_each = local.adopt_private
  to       = aws_subnet.private[each.key]
  id       = each.value
}

import {
  for_each = local.adopt_public
  to       = aws_subnet.public[each.key]
  id       = each.value
}

import {
  for_each = local.adopt_one.db_subnet_group == null ? [] : [local.adopt_one.db_subnet_group]
  to       = aws_db_subnet_group.this
  id       = each.value
}

import {
  for_each = local.adopt_one.db_security_group == null ? [] : [local.adopt_one.db_security_group]
  to       = aws_security_group.db
  id       = each.value
}

import {
  for_each = local.adopt_one.db_parameter_group == null ? [] : [local.adopt_one.db_parameter_group]
  to       = aws_db_parameter_group.this
  id       = each.value
}

import {
  for_each = local.adopt_one.db_instance == null ? [] : [local.adopt_one.db_instance]
  to       = aws_db_instance.this
  id       = each.value
}

import {
  for_each = local.adopt_one.eks_cluster_role == null ? [] : [local.adopt_one.eks_cluster_role]
  to       = aws_iam_role.eks_cluster
  id       = each.value
}

import {
  for_each = local.adopt_one.eks_cluster == null ? [] : [local.adopt_one.eks_cluster]
  to       = aws_eks_cluster.this
  id       = each.value
}

import {
  for_each = local.adopt_one.uploads_bucket == null ? [] : [local.adopt_one.uploads_bucket]
  to       = aws_s3_bucket.uploads
  id       = each.value
}

import {
  for_each = local.adopt_one.data_kms_key == null ? [] : [local.adopt_one.data_kms_key]
  to       = aws_kms_key.data
  id       = each.value
}
