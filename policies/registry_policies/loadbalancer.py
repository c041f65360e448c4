"""Elastic Load Balancing v2: the public front door on AWS (`aws:lb/*` and its alias `aws:alb/*`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, resource_policy

LOAD_BALANCERS = {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
LISTENERS = {"aws:lb/listener:Listener", "aws:alb/listener:Listener"}
# ELBSecurityPolicy-TLS13-1-2-*, -TLS13-1-3-*, -TLS-1-2-*, -FS-1-2-*: nothing below TLS 1.2
TLS12_POLICIES = r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-"


def _is_application(args: ResourceValidationArgs) -> bool:
    return args.props.get("loadBalancerType") in (None, "", "application")


def _https_only(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("protocol") != "HTTP":
        return
    serving = sorted(
        {str(a.get("type")) for a in map(as_mapping, as_list(args.props.get("defaultActions")))} - {"redirect"}
    )
    if serving:
        yield (
            f"{args.name}: this plain-HTTP listener answers with {', '.join(serving)}; "
            "serve traffic on an HTTPS listener and make this one only redirect to HTTPS"
        )


def _redirects_to_https(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("protocol") != "HTTP":
        return
    for action in map(as_mapping, as_list(args.props.get("defaultActions"))):
        if action.get("type") == "redirect" and as_mapping(action.get("redirect")).get("protocol") != "HTTPS":
            yield f"{args.name}: the redirect keeps plain HTTP; set redirect protocol 'HTTPS' (port 443, HTTP_301)"


def _tls12(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if args.props.get("protocol") not in ("HTTPS", "TLS"):
        return
    policy = args.props.get("sslPolicy")
    if not policy or not re.search(config["allowedSslPolicyPattern"], str(policy)):
        yield (
            f"{args.name}: ssl_policy {policy or '(provider default)'} may allow TLS below 1.2; "
            "set ssl_policy 'ELBSecurityPolicy-TLS13-1-2-2021-06'"
        )


def _drops_invalid_headers(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if _is_application(args) and args.props.get("dropInvalidHeaderFields") is not True:
        yield f"{args.name}: set drop_invalid_header_fields=True so malformed headers never reach the registry"


def _access_logs(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    logs = as_mapping(args.props.get("accessLogs"))
    if logs.get("enabled") is not True or not logs.get("bucket"):
        yield (
            f"{args.name}: a production load balancer must write access logs; set access_logs "
            "(enabled=True, bucket=a versioned, SSE-S3 bucket that ELB log delivery may write to)"
        )


def _deletion_protection(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("enableDeletionProtection") is not True:
        yield f"{args.name}: set enable_deletion_protection=True on a production load balancer"


POLICIES = [
    resource_policy(
        name="lb-listener-https-only",
        description="Load balancer listeners serve traffic over HTTPS; a plain-HTTP listener may only redirect (CKV_AWS_2).",
        types=LISTENERS,
        check=_https_only,
        level=MANDATORY,
    ),
    resource_policy(
        name="lb-http-listener-redirects-to-https",
        description="Redirects on plain-HTTP listeners send clients to HTTPS (CKV2_AWS_20).",
        types=LISTENERS,
        check=_redirects_to_https,
        level=MANDATORY,
    ),
    resource_policy(
        name="lb-listener-tls12-policy",
        description="HTTPS and TLS listeners use a security policy that allows only TLS 1.2 or newer (CKV_AWS_103).",
        types=LISTENERS,
        check=_tls12,
        level=MANDATORY,
        params={"allowedSslPolicyPattern": {"type": "string", "default": TLS12_POLICIES}},
    ),
    resource_policy(
        name="lb-drop-invalid-header-fields",
        description="Application load balancers drop HTTP headers with invalid fields (CKV_AWS_131).",
        types=LOAD_BALANCERS,
        check=_drops_invalid_headers,
        level=MANDATORY,
    ),
    resource_policy(
        name="lb-access-logs-in-production",
        description="Load balancers in production stacks write access logs to S3 (CKV_AWS_91).",
        types=LOAD_BALANCERS,
        check=_access_logs,
        level=MANDATORY,
        production_only=True,
    ),
    resource_policy(
        name="lb-deletion-protection-in-production",
        description="Load balancers in production stacks have deletion protection enabled (CKV_AWS_150).",
        types=LOAD_BALANCERS,
        check=_deletion_protection,
        level=MANDATORY,
        production_only=True,
    ),
]
