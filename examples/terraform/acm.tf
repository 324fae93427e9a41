resource "aws_acm_certificate" "this" {
  domain_name               = var.domain
  subject_alternative_names = ["*.${var.domain}"]
  validation_method         = "DNS"
  tags                      = { Name = "${local.prefix}-${var.domain}" }

  lifecycle {
    create_before_destroy = true
  }
}

# ACM gives the apex and its wildcard the same validation record: make it once.
resource "aws_route53_record" "cert_validation" {
  for_each = var.validate_certificate ? {
    for o in aws_acm_certificate.this.domain_validation_options : o.domain_name => o if !startswith(o.domain_name, "*.")
  } : {}

  zone_id         = var.hosted_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 60
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = var.validate_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for r in aws_route53_record.cert_validation : r.fqdn]
}
