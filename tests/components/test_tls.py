"""The edge certificate: a private CA and a server certificate with the right names, or the user's own."""

from __future__ import annotations

import json

from tests.conftest import RunStack
from tools.mock_program import Secret, unwrap


def test_self_signed_ca_and_server_certificate(run_stack: RunStack) -> None:
    run = run_stack(
        "local", overrides={"registry:domain": "registry.example.com", "registry:tls": '{"validityDays": 90}'}
    )
    ca = run.named("registry-tls-ca")
    assert ca.inputs["isCaCertificate"] is True
    assert ca.inputs["validityPeriodHours"] == 3650 * 24
    assert set(ca.inputs["allowedUses"]) == {"cert_signing", "crl_signing", "digital_signature"}
    csr = run.named("registry-tls-server-csr")
    assert csr.inputs["dnsNames"] == ["registry.example.com", "localhost"]
    assert csr.inputs["ipAddresses"] == ["127.0.0.1", "::1"]
    assert csr.inputs["subject"]["commonName"] == "registry.example.com"
    server = run.named("registry-tls-server")
    assert server.inputs["validityPeriodHours"] == 90 * 24
    assert server.inputs["earlyRenewalHours"] == 30 * 24
    assert set(server.inputs["allowedUses"]) == {"digital_signature", "key_encipherment", "server_auth"}
    for key in run.of_type("tls:index/privateKey:PrivateKey"):
        assert key.inputs["algorithm"] == "ECDSA" and key.inputs["ecdsaCurve"] == "P256"
        assert isinstance(key.outputs["privateKeyPem"], Secret)
    assert isinstance(server.inputs["caPrivateKeyPem"], Secret)


def test_short_lived_certificates_renew_early_enough(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:tls": '{"validityDays": 6}'})
    assert run.named("registry-tls-server").inputs["earlyRenewalHours"] == 2 * 24


def test_provided_certificate_skips_the_ca(run_stack: RunStack) -> None:
    pem = {
        "mode": "provided",
        "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "privateKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    }
    # the provided key must be a Pulumi secret, as `pulumi config set --secret --path` stores it
    run = run_stack("local", overrides={"registry:tls": json.dumps(pem)}, secret_keys=["registry:tls"])
    assert run.of_type("tls:index/selfSignedCert:SelfSignedCert") == []
    assert "caCertificate" not in run.outputs
    edge_files = {u["file"]: u["content"] for u in unwrap(run.named("registry-edge").inputs["uploads"])}
    assert edge_files["/etc/nginx/tls/server.crt"] == pem["certificate"]
    assert edge_files["/etc/nginx/tls/server.key"] == pem["privateKey"]
    assert isinstance(run.named("registry-edge").inputs["uploads"], Secret)
