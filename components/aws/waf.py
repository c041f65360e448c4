"""AWS WAF in front of a production load balancer (CKV2_AWS_28): rate limits per client address, the
known-bad-inputs rules that cannot break registry traffic, and a log of what it blocked.

WAF inspects requests, never responses: it cannot see a 401, so it cannot count failed logins. The
closest honest rules are rate limits on what a guesser or a scanner sends:
- requests without an Authorization header, per address: every client sends one (the challenge) before
  its credentials, a scanner sends nothing else; left out when a mirror serves anonymous pulls, which
  never carry the header;
- every request, per address: bounds a flood and the pace of any guessing.
Passwords are 32 random characters (components/credentials.py): no rate makes guessing one feasible;
these rules keep floods and scanners off the tasks. The edge's audit line (the "failed logins by
address" query, components/aws/observability.py) is where failed logins show.

AWS managed rules: AWSManagedRulesKnownBadInputsRuleSet only, with its rules that read the body
counting instead of blocking: a layer is arbitrary bytes (a Java archive holds Java's serialization
magic, any tarball may hold "${jndi:"), and a blocked upload is a broken push. The common rule set is
not used: its SizeRestrictions_BODY blocks every body over 8 KB, that is every layer upload, and its
other body rules would read layer bytes too. Rule names as AWS documents them:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# per client address over WINDOW_SECONDS; a CI fleet behind one NAT address is one client
WINDOW_SECONDS = 300
UNAUTHENTICATED_LIMIT = 1000  # ~3 per second: challenges and scans
REQUESTS_LIMIT = 20000  # ~66 per second: a fleet pulling large images stays under it
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
# the group's rules that inspect the request body (the first 8 KB an ALB hands WAF): counted, never blocking
BODY_RULES = ("JavaDeserializationRCE_BODY", "Log4JRCE_BODY")


def waf_log_group_name(family: str, region: str) -> str:
    """WAF logs only to a log group whose name starts with aws-waf-logs-."""
    return f"aws-waf-logs-{family}-{region}"


@dataclass(frozen=True)
class AwsWafArgs:
    family: str
    region: str
    load_balancer_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the stack's logs key (its policy names waf_log_group_name)
    log_retention_days: int
    anonymous_pulls: bool  # a mirror serves pulls without credentials


class AwsWaf(pulumi.ComponentResource):
    """The web ACL, its association with the load balancer, and its log of blocked requests."""

    web_acl_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsWafArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_waf:AwsWaf", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metric = f"{args.family}-{args.region}"
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=metric,
            description="registry: rate limits per client address, known bad inputs",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=web_acl_rules(metric, anonymous_pulls=args.anonymous_pulls),
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            ),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-association", resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn, opts=child
        )
        self._logging(name, args, acl)
        self.web_acl_arn = acl.arn
        self.register_outputs({"web_acl_arn": self.web_acl_arn})

    def _logging(self, name: str, args: AwsWafArgs, acl: aws.wafv2.WebAcl) -> None:
        """Blocked requests only (who was rate limited, which input matched), never a password: the
        Authorization header is redacted (a blocked client may well have sent real credentials)."""
        child = pulumi.ResourceOptions(parent=self)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=waf_log_group_name(args.family, args.region),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[logs.arn],
            redacted_fields=[{"single_header": {"name": "authorization"}}],
            logging_filter={
                "default_behavior": "DROP",
                "filters": [
                    {
                        "behavior": "KEEP",
                        "requirement": "MEETS_ANY",
                        "conditions": [{"action_condition": {"action": "BLOCK"}}],
                    }
                ],
            },
            opts=child,
        )


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def web_acl_rules(metric: str, *, anonymous_pulls: bool) -> list[Any]:
    """The web ACL's rules, cheapest first (pulumi-aws WebAcl `rules`, snake_case as its args take them)."""
    rules: list[Any] = []
    if not anonymous_pulls:
        # NOT (Authorization longer than 0 bytes): a missing header never matches the size constraint
        has_authorization = {
            "size_constraint_statement": {
                "field_to_match": {"single_header": {"name": "authorization"}},
                "comparison_operator": "GT",
                "size": 0,
                "text_transformations": [{"priority": 0, "type": "NONE"}],
            }
        }
        rules.append(
            _rate_rule(
                "unauthenticated-per-address",
                UNAUTHENTICATED_LIMIT,
                metric,
                scope_down={"not_statement": {"statement": has_authorization}},
            )
        )
    rules.append(_rate_rule("requests-per-address", REQUESTS_LIMIT, metric))
    rules.append(_known_bad_inputs(len(rules), metric))
    return [{**rule, "priority": k} for k, rule in enumerate(rules)]


def _rate_rule(rule: str, limit: int, metric: str, scope_down: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "aggregate_key_type": "IP",  # the ALB's peer: the client (no proxy in front of the load balancer)
        "limit": limit,
        "evaluation_window_sec": WINDOW_SECONDS,
    }
    if scope_down is not None:
        statement["scope_down_statement"] = scope_down
    return {
        "name": rule,
        "action": {"block": {}},
        "statement": {"rate_based_statement": statement},
        "visibility_config": _visibility(f"{metric}-{rule}"),
    }


def _known_bad_inputs(priority: int, metric: str, counted: Sequence[str] = BODY_RULES) -> dict[str, Any]:
    return {
        "name": "known-bad-inputs",
        "priority": priority,
        "override_action": {"none": {}},  # the group's own actions: block, but for `counted`
        "statement": {
            "managed_rule_group_statement": {
                "vendor_name": "AWS",
                "name": KNOWN_BAD_INPUTS,
                "rule_action_overrides": [{"name": rule, "action_to_use": {"count": {}}} for rule in counted],
            }
        },
        "visibility_config": _visibility(f"{metric}-known-bad-inputs"),
    }
