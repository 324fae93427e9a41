resource "aws_elasticache_subnet_group" "this" {
  name       = "${local.prefix}-redis"
  subnet_ids = values(aws_subnet.private)[*].id
  tags       = { Name = "${local.prefix}-redis" }
}

resource "aws_security_group" "redis" {
  name        = "${local.prefix}-redis"
  description = "Redis from inside the VPC"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${local.prefix}-redis" }
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  security_group_id = aws_security_group.redis.id
  description       = "Redis from the VPC"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = var.vpc_cidr
  tags              = { Name = "${local.prefix}-redis" }
}

resource "aws_elasticache_replication_group" "this" {
  count = var.redis_enabled ? 1 : 0

  replication_group_id = "${local.prefix}-redis"
  description          = "${local.prefix} Redis"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  port                 = 6379
  num_cache_clusters   = 2

  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = var.redis_auth_token

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  tags = { Name = "${local.prefix}-redis" }
}
