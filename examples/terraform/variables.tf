variable "name" {
  description = "Base name; every resource name derives from it."
  type        = string
  default     = "clipper"
}

variable "environment" {
  description = "Environment name (sandbox, staging, production); part of names and the Environment tag."
  type        = string
}

variable "region" {
  description = "AWS region; the three AZs used are <region>a, b and c."
  type        = string
  default     = "us-east-1"
}

variable "emulator" {
  description = "True only against a local AWS emulator (moto): skips credential/metadata/region checks, path-style S3."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "eks_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.29"
}

variable "node_desired" {
  description = "Desired size of the managed node group (min 2, max 10)."
  type        = number
  default     = 3
}

variable "eks_addons" {
  description = "EKS add-ons managed as aws_eks_addon (moto answers 404 to the add-on APIs: use [] there)."
  type        = list(string)
  default     = ["vpc-cni", "coredns", "kube-proxy"]
}

variable "db_engine_version" {
  description = "PostgreSQL engine version."
  type        = string
  default     = "16.3"
}

variable "db_username" {
  description = "Master user name of the database (changing it replaces the instance)."
  type        = string
  default     = "clipper"
}

variable "db_password" {
  description = "Master password; null lets RDS manage it in Secrets Manager (manage_master_user_password)."
  type        = string
  default     = null
  sensitive   = true
}

variable "db_parameters" {
  description = "Parameters of the postgres16 parameter group (moto reads them back without Source=user, a perpetual diff: {} there)."
  type        = map(string)
  default     = { log_min_duration_statement = "1000" }
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot when the database is destroyed."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Deletion protection on the database."
  type        = bool
  default     = true
}

variable "redis_enabled" {
  description = "Create the Redis replication group (moto lists member clusters it never creates, so the provider's read fails: false there)."
  type        = bool
  default     = true
}

variable "redis_auth_token" {
  description = "AUTH token of the Redis replication group (16-128 printable characters)."
  type        = string
  sensitive   = true
}

variable "domain" {
  description = "Domain of the ACM certificate (apex and wildcard)."
  type        = string
  default     = "clpr.tv"
}

variable "hosted_zone_id" {
  description = "Route 53 zone for the DNS validation records (used only when validate_certificate)."
  type        = string
  default     = null
}

variable "validate_certificate" {
  description = "Create the validation records and wait for the certificate to be issued."
  type        = bool
  default     = false
}

variable "images" {
  description = "ECR repositories to create."
  type        = list(string)
  default     = ["clipper-backend", "clipper-frontend"]
}

variable "backup_selection" {
  description = "Create the AWS Backup selection of the database (moto has no CreateBackupSelection: false there)."
  type        = bool
  default     = true
}

variable "adopt" {
  description = "Existing resources to import instead of create: key (see imports.tf) => resource id."
  type        = map(string)
  default     = {}
}
