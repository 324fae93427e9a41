terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region

  # Only for a local emulator (moto); all false on real AWS.
  skip_credentials_validation = var.emulator
  skip_metadata_api_check     = var.emulator
  skip_region_validation      = var.emulator
  s3_use_path_style           = var.emulator

  default_tags {
    tags = {
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

locals {
  prefix = "${var.name}-${var.environment}"
  azs    = { for s in ["a", "b", "c"] : s => "${var.region}${s}" }
}
