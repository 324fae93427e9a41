output "vpc_id" {
  value = aws_vpc.this.id
}

output "private_subnet_ids" {
  value = values(aws_subnet.private)[*].id
}

output "public_subnet_ids" {
  value = values(aws_subnet.public)[*].id
}

output "nat_gateway_ids" {
  value = values(aws_nat_gateway.this)[*].id
}

output "eks_cluster_name" {
  value = aws_eks_cluster.this.name
}

output "eks_cluster_endpoint" {
  value = aws_eks_cluster.this.endpoint
}

output "db_instance_identifier" {
  value = aws_db_instance.this.identifier
}

output "db_endpoint" {
  value = aws_db_instance.this.endpoint
}

output "redis_replication_group_id" {
  value = one(aws_elasticache_replication_group.this[*].id)
}

output "uploads_bucket" {
  value = aws_s3_bucket.uploads.bucket
}

output "certificate_arn" {
  value = aws_acm_certificate.this.arn
}

output "ecr_repository_urls" {
  value = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "backup_vault_name" {
  value = aws_backup_vault.this.name
}

output "backup_plan_id" {
  value = aws_backup_plan.this.id
}
