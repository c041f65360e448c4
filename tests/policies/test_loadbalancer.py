"""Load balancer policies, for both the aws:lb and aws:alb tokens."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.support import NOT_APPLICABLE, resource_args, run

TOKENS = ["aws:lb/{}:{}", "aws:alb/{}:{}"]
REDIRECT = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
FORWARD = {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg"}


def listener(token: str, **props: Any) -> Any:
    return resource_args(token.format("listener", "Listener"), props, name="listener")


def balancer(token: str, config: dict[str, Any] | None = None, **props: Any) -> Any:
    return resource_args(token.format("loadBalancer", "LoadBalancer"), props, name="alb", config=config)


@pytest.mark.parametrize("token", TOKENS)
def test_https_listener_and_redirecting_http_listener_pass(token: str) -> None:
    https = listener(
        token, protocol="HTTPS", port=443.0, sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", defaultActions=[FORWARD]
    )
    http = listener(token, protocol="HTTP", port=80.0, defaultActions=[REDIRECT])
    for policy in ["lb-listener-https-only", "lb-http-listener-redirects-to-https", "lb-listener-tls12-policy"]:
        assert run(policy, https) == [] and run(policy, http) == []


@pytest.mark.parametrize("token", TOKENS)
def test_an_http_listener_that_forwards_fails(token: str) -> None:
    [message] = run("lb-listener-https-only", listener(token, protocol="HTTP", defaultActions=[FORWARD])) or []
    assert message.startswith("listener:") and "forward" in message and "redirect to HTTPS" in message


def test_a_redirect_that_keeps_http_fails() -> None:
    keeps = {"type": "redirect", "redirect": {"port": "8080", "statusCode": "HTTP_302"}}
    [message] = (
        run("lb-http-listener-redirects-to-https", listener(TOKENS[0], protocol="HTTP", defaultActions=[keeps])) or []
    )
    assert "protocol 'HTTPS'" in message


@pytest.mark.parametrize(
    "policy",
    [None, "ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS13-1-0-2021-06", "ELBSecurityPolicy-TLS-1-1-2017-01"],
)
def test_a_listener_policy_that_allows_old_tls_fails(policy: str | None) -> None:
    props = {"protocol": "HTTPS", "defaultActions": [FORWARD], **({"sslPolicy": policy} if policy else {})}
    [message] = run("lb-listener-tls12-policy", listener(TOKENS[1], **props)) or []
    assert "ELBSecurityPolicy-TLS13-1-2-2021-06" in message


@pytest.mark.parametrize("token", TOKENS)
def test_invalid_headers_must_be_dropped_by_application_load_balancers(token: str) -> None:
    assert run("lb-drop-invalid-header-fields", balancer(token, dropInvalidHeaderFields=True)) == []
    [message] = run("lb-drop-invalid-header-fields", balancer(token, loadBalancerType="application")) or []
    assert message.startswith("alb:") and "drop_invalid_header_fields=True" in message
    assert run("lb-drop-invalid-header-fields", balancer(token, loadBalancerType="network")) == []


def test_deletion_protection_binds_production_only() -> None:
    always, never = {"production": "always"}, {"production": "never"}
    assert run("lb-deletion-protection-in-production", balancer(TOKENS[0], always, enableDeletionProtection=True)) == []
    [message] = run("lb-deletion-protection-in-production", balancer(TOKENS[0], always)) or []
    assert "enable_deletion_protection=True" in message
    assert run("lb-deletion-protection-in-production", balancer(TOKENS[0], never)) is NOT_APPLICABLE


def test_access_logs_bind_production_only() -> None:
    always, never = {"production": "always"}, {"production": "never"}
    logs = {"accessLogs": {"bucket": "registry-alb-logs-1", "enabled": True}}
    assert run("lb-access-logs-in-production", balancer(TOKENS[0], always, **logs)) == []
    for props in ({}, {"accessLogs": {"bucket": "registry-alb-logs-1", "enabled": False}}):
        [message] = run("lb-access-logs-in-production", balancer(TOKENS[1], always, **props)) or []
        assert message.startswith("alb:") and "access_logs" in message
    assert run("lb-access-logs-in-production", balancer(TOKENS[0], never)) is NOT_APPLICABLE
