resource "aws_db_subnet_group" "this" {
  name       = "${local.prefix}-db"
  subnet_ids = values(aws_subnet.private)[*].id
  tags       = { Name = "${local.prefix}-db" }
}

resource "aws_security_group" "db" {
  name        = "${local.prefix}-db"
  description = "PostgreSQL from inside the VPC"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${local.prefix}-db" }
}

resource "aws_vpc_security_group_ingress_rule" "db_postgres" {
  security_group_id = aws_security_group.db.id
  description       = "PostgreSQL from the VPC"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = var.vpc_cidr
  tags              = { Name = "${local.prefix}-db-postgres" }
}

resource "aws_db_parameter_group" "this" {
  name        = "${local.prefix}-postgres16"
  family      = "postgres16"
  description = "${local.prefix} PostgreSQL 16"

  dynamic "parameter" {
    for_each = var.db_parameters
    content {
      name  = parameter.key
      value = parameter.value
    }
  }

  tags = { Name = "${local.prefix}-postgres16" }
}

resource "aws_db_instance" "this" {
  identifier     = "${local.prefix}-postgres"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = "db.t4g.medium"

  storage_type          = "gp3"
  allocated_storage     = 20
  max_allocated_storage = 100
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.data.arn

  db_name                     = replace(var.name, "-", "_")
  username                    = var.db_username
  password                    = var.db_password
  manage_master_user_password = var.db_password == null ? true : null

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = 7
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${local.prefix}-postgres-final"

  tags = { Name = "${local.prefix}-postgres" }
}
