"""Security groups: the only doors open to the whole internet are 80/443 on the load balancer,
and the ports of its other TLS listeners (a mirror's own listener terminates TLS there too).

Whether a group belongs to a load balancer is a fact about two resources, so this is a stack
rule. Ingress is read from all three ways pulumi-aws declares it: inline `ingress` blocks on
`aws:ec2/securityGroup`, `aws:ec2/securityGroupRule` (type ingress) and
`aws:vpc/securityGroupIngressRule`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, label, linked, of_types, prop_value, stack_policy
from .loadbalancer import LOAD_BALANCERS

SECURITY_GROUPS = {"aws:ec2/securityGroup:SecurityGroup"}
GROUP_RULES = {"aws:ec2/securityGroupRule:SecurityGroupRule"}
INGRESS_RULES = {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
ANYWHERE = {"0.0.0.0/0", "::/0"}
LISTENERS = {"aws:lb/listener:Listener", "aws:alb/listener:Listener"}
TLS_PROTOCOLS = {"HTTPS", "TLS"}


@dataclass(frozen=True)
class Ingress:
    declared_by: PolicyResource
    group: PolicyResource | None
    ports: tuple[int, int] | None  # None: every port (protocol -1)


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    if str(protocol) in ("-1", "all") or from_port is None:
        return None
    return int(from_port), int(to_port if to_port is not None else from_port)


def _open_to_world(args: StackValidationArgs) -> Iterator[Ingress]:
    groups = of_types(args.resources, SECURITY_GROUPS)
    for group in groups:
        for block in map(as_mapping, as_list(prop_value(group, "ingress"))):
            if ANYWHERE & set(as_list(block.get("cidrBlocks")) + as_list(block.get("ipv6CidrBlocks"))):
                yield Ingress(group, group, _ports(block.get("protocol"), block.get("fromPort"), block.get("toPort")))
    for rule in of_types(args.resources, GROUP_RULES):
        cidrs = as_list(prop_value(rule, "cidrBlocks")) + as_list(prop_value(rule, "ipv6CidrBlocks"))
        if prop_value(rule, "type") == "ingress" and ANYWHERE & set(cidrs):
            yield Ingress(rule, _owner(rule, groups), _rule_ports(rule.props, "protocol"))
    for rule in of_types(args.resources, INGRESS_RULES):
        if {prop_value(rule, "cidrIpv4"), prop_value(rule, "cidrIpv6")} & ANYWHERE:
            yield Ingress(rule, _owner(rule, groups), _rule_ports(rule.props, "ipProtocol"))


def _rule_ports(props: Mapping[str, Any], protocol_key: str) -> tuple[int, int] | None:
    return _ports(props.get(protocol_key), props.get("fromPort"), props.get("toPort"))


def _owner(rule: PolicyResource, groups: list[PolicyResource]) -> PolicyResource | None:
    owners = linked(rule, "securityGroupId", groups, ["id"])
    return owners[0] if len(owners) == 1 else None


def _world_ingress(args: StackValidationArgs, config: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    allowed = {int(p) for p in config["publicPorts"]} | {
        int(prop_value(listener, "port"))
        for listener in of_types(args.resources, LISTENERS)
        if str(prop_value(listener, "protocol")).upper() in TLS_PROTOCOLS and prop_value(listener, "port") is not None
    }
    groups = of_types(args.resources, SECURITY_GROUPS)
    on_load_balancers = {
        id(g) for lb in of_types(args.resources, LOAD_BALANCERS) for g in linked(lb, "securityGroups", groups, ["id"])
    }
    for ingress in _open_to_world(args):
        where = label(ingress.declared_by)
        if ingress.ports is None:
            yield (
                f"{where} admits every port from anywhere; allow only the ports and sources needed",
                ingress.declared_by,
            )
            continue
        low, high = ingress.ports
        ports = f"port {low}" if low == high else f"ports {low}-{high}"
        if not set(range(low, high + 1)) <= allowed:
            yield (
                f"{where} admits {ports} from anywhere; only {sorted(allowed)} may be public, on the "
                "load balancer: admit other traffic from a security group or a narrow CIDR",
                ingress.declared_by,
            )
        elif ingress.group is None or id(ingress.group) not in on_load_balancers:
            yield (
                f"{where} admits {ports} from anywhere on a group that is not a load balancer's; only the "
                "load balancer may face the internet: reference its security group instead",
                ingress.declared_by,
            )


VPCS = {"aws:ec2/vpc:Vpc"}
FLOW_LOGS = {"aws:ec2/flowLog:FlowLog"}


def _flow_logs(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    flows = of_types(args.resources, FLOW_LOGS)
    for vpc in of_types(args.resources, VPCS):
        if not any(vpc in linked(flow, "vpcId", [vpc], ["id"]) for flow in flows):
            yield (
                f"{label(vpc)} has no flow log: add an aws.ec2.FlowLog for it (traffic_type 'ALL') so "
                "accepted and rejected traffic of a production VPC can be investigated",
                vpc,
            )


POLICIES = [
    stack_policy(
        name="vpc-flow-logs-in-production",
        description="Every VPC a production stack creates records its traffic in flow logs (CKV2_AWS_11).",
        check=_flow_logs,
        level=MANDATORY,
        production_only=True,
    ),
    stack_policy(
        name="security-group-no-public-ingress",
        description="No security group admits 0.0.0.0/0 or ::/0 except on ports 80 and 443 (and its other TLS listeners' ports) of a load balancer's group (CKV_AWS_24, CKV_AWS_25, CKV_AWS_260, CKV_AWS_277).",
        check=_world_ingress,
        level=MANDATORY,
        params={"publicPorts": {"type": "array", "items": {"type": "integer"}, "default": [80, 443]}},
    ),
]
