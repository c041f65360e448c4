"""The load balancer's certificate in ACM.

`acm`: Amazon issues it for `domain` and validates it by a DNS record in the user's Route 53
zone; it renews itself. Otherwise the pulumi-tls certificate (self-signed CA or provided) is
imported, so throwaway stacks need no public DNS validation and clients trust the stack's CA.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.tls import Tls


@dataclass(frozen=True)
class AwsCertificateArgs:
    domain: str
    hosted_zone_id: str | None = None  # acm: where the validation record goes
    imported: Tls | None = None  # None: ACM issues a certificate (needs hosted_zone_id)


class AwsCertificate(pulumi.ComponentResource):
    """`arn` resolves once the certificate can be attached to a listener (validated, for acm)."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_certificate:AwsCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.imported is not None:
            # ACM takes the leaf alone and its issuers apart: our CA, or the rest of a provided chain
            if args.imported.ca_cert_pem is not None:
                body, chain = args.imported.cert_pem, args.imported.ca_cert_pem
            else:
                parts = args.imported.cert_pem.apply(split_chain)
                body, chain = parts[0], parts[1]
            self.arn = aws.acm.Certificate(
                f"{name}-imported",
                certificate_body=body,
                private_key=args.imported.private_key_pem,
                certificate_chain=chain,
                opts=child,
            ).arn
        else:
            if not args.hosted_zone_id:
                raise ValueError("an ACM-issued certificate needs the Route 53 zone for its validation record")
            certificate = aws.acm.Certificate(
                f"{name}-issued",
                domain_name=args.domain,
                validation_method="DNS",
                opts=child,
            )
            # one name, no SANs: exactly one validation record
            option = certificate.domain_validation_options[0]
            record = aws.route53.Record(
                f"{name}-validation",
                zone_id=args.hosted_zone_id,
                name=option.resource_record_name,
                type=option.resource_record_type,
                records=[option.resource_record_value],
                ttl=300,
                allow_overwrite=True,
                opts=child,
            )
            self.arn = aws.acm.CertificateValidation(
                f"{name}-validated",
                certificate_arn=certificate.arn,
                validation_record_fqdns=[record.fqdn],
                opts=child,
            ).certificate_arn
        self.register_outputs({"arn": self.arn})


def split_chain(pem: str) -> tuple[str, str | None]:
    """(leaf, issuers or None) of a PEM chain, leaf first as TLS servers send it."""
    end = "-----END CERTIFICATE-----"
    blocks = [block.strip() + "\n" + end + "\n" for block in pem.split(end) if block.strip()]
    return blocks[0], "".join(blocks[1:]) or None
