"""The edge certificate: a private CA and a server certificate, or one the user provides."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_tls as tls

from components.config import SelfHosted

CA_VALIDITY_DAYS = 3650  # clients trust the CA once; server certificates rotate under it


@dataclass(frozen=True)
class TlsArgs:
    common_name: str
    dns_names: list[str]
    ip_addresses: list[str] = field(default_factory=list)
    validity_days: int = 365
    provided_certificate: str | None = None  # PEM chain; with provided_private_key skips the CA
    provided_private_key: str | None = None

    @classmethod
    def for_settings(cls, settings: SelfHosted) -> TlsArgs:
        """The certificate every target's edge presents: the domain plus loopback names."""
        dns, ips = settings.tls_sans
        return cls(
            common_name=settings.domain,
            dns_names=dns,
            ip_addresses=ips,
            validity_days=settings.tls.validity_days,
            provided_certificate=settings.tls.certificate,
            provided_private_key=settings.tls.private_key,
        )


class Tls(pulumi.ComponentResource):
    """Outputs `ca_cert_pem` (None when provided), `cert_pem` and `private_key_pem` (secret)."""

    ca_cert_pem: pulumi.Output[str] | None
    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: TlsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:tls:Tls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.provided_certificate and args.provided_private_key:
            self.ca_cert_pem = None
            self.cert_pem = pulumi.Output.from_input(args.provided_certificate)
            self.private_key_pem = pulumi.Output.secret(args.provided_private_key)
        else:
            ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            ca_cert = tls.SelfSignedCert(
                f"{name}-ca",
                private_key_pem=ca_key.private_key_pem,
                is_ca_certificate=True,
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=f"{args.common_name} registry CA", organization="registry"
                ),
                validity_period_hours=CA_VALIDITY_DAYS * 24,
                allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
                opts=child,
            )
            key = tls.PrivateKey(f"{name}-server-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            request = tls.CertRequest(
                f"{name}-server-csr",
                private_key_pem=key.private_key_pem,
                subject=tls.CertRequestSubjectArgs(common_name=args.common_name, organization="registry"),
                dns_names=args.dns_names,
                ip_addresses=args.ip_addresses,
                opts=child,
            )
            cert = tls.LocallySignedCert(
                f"{name}-server",
                cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem,
                ca_cert_pem=ca_cert.cert_pem,
                validity_period_hours=args.validity_days * 24,
                early_renewal_hours=min(30, max(1, args.validity_days // 3)) * 24,
                allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
                opts=child,
            )
            self.ca_cert_pem = ca_cert.cert_pem
            self.cert_pem = cert.cert_pem
            self.private_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.register_outputs(
            {"ca_cert_pem": self.ca_cert_pem, "cert_pem": self.cert_pem, "private_key_pem": self.private_key_pem}
        )
