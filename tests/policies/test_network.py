"""Security groups: only the load balancer's group may admit the internet, and only on 80/443."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import PolicyResource

from tests.policies.support import NOT_APPLICABLE, resource, run, stack_args

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
POLICY = "security-group-no-public-ingress"


def group(name: str, **props: Any) -> PolicyResource:
    return resource(SG, {"id": f"sg-{name}", **props}, name=name)


def ingress(
    name: str, target: PolicyResource, port: int, cidr: str | None = "0.0.0.0/0", **props: Any
) -> PolicyResource:
    rule = {"securityGroupId": target.props["id"], "ipProtocol": "tcp", "fromPort": float(port), "toPort": float(port)}
    return resource(INGRESS, {**rule, "cidrIpv4": cidr, **props}, name=name, dependencies=[target])


def balancer(*groups: PolicyResource, token: str = "aws:lb/loadBalancer:LoadBalancer") -> PolicyResource:
    ids = [g.props["id"] for g in groups]
    return resource(token, {"securityGroups": ids}, name="alb", dependencies=list(groups))


@pytest.mark.parametrize("token", ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"])
def test_https_and_http_from_anywhere_on_the_load_balancer_pass(token: str) -> None:
    lb, tasks = group("lb"), group("tasks")
    resources = [lb, tasks, balancer(lb, token=token), ingress("in-443", lb, 443), ingress("in-80", lb, 80)]
    resources.append(ingress("tasks-from-vpc", tasks, 8443, cidr="10.0.0.0/16"))
    assert run(POLICY, stack_args(resources)) == []


def test_port_443_from_anywhere_on_a_group_that_is_not_the_load_balancers_fails() -> None:
    lb, tasks = group("lb"), group("tasks")
    [message] = run(POLICY, stack_args([lb, tasks, balancer(lb), ingress("tasks-443", tasks, 443)])) or []
    assert message.startswith("tasks-443 (SecurityGroupIngressRule)") and "not a load balancer's" in message


def test_another_port_from_anywhere_fails_even_on_the_load_balancer() -> None:
    lb = group("lb")
    [message] = run(POLICY, stack_args([lb, balancer(lb), ingress("ssh", lb, 22, cidr=None, cidrIpv6="::/0")])) or []
    assert "port 22 from anywhere" in message


def listener(port: int, protocol: str) -> PolicyResource:
    return resource("aws:lb/listener:Listener", {"port": float(port), "protocol": protocol}, name=f"listener-{port}")


def test_the_port_of_another_tls_listener_on_the_load_balancer_may_be_public_too() -> None:
    """A mirror's own listener (registry:mirrors[].port) terminates TLS on the load balancer like 443."""
    lb = group("lb")
    resources = [lb, balancer(lb), listener(5444, "HTTPS"), ingress("mirror", lb, 5444)]
    assert run(POLICY, stack_args(resources)) == []
    [message] = run(POLICY, stack_args([lb, balancer(lb), listener(5444, "HTTP"), ingress("mirror", lb, 5444)])) or []
    assert "port 5444 from anywhere" in message


def test_inline_ingress_and_legacy_rules_are_read_too() -> None:
    open_all = group("open", ingress=[{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["0.0.0.0/0"]}])
    legacy = resource(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        {
            "type": "ingress",
            "protocol": "tcp",
            "fromPort": 5000.0,
            "toPort": 5001.0,
            "cidrBlocks": ["0.0.0.0/0"],
            "securityGroupId": "sg-open",
        },
        name="legacy",
        dependencies=[open_all],
    )
    messages = run(POLICY, stack_args([open_all, legacy])) or []
    assert [m.split(" admits")[0] for m in messages] == ["open (SecurityGroup)", "legacy (SecurityGroupRule)"]
    assert "every port" in messages[0] and "ports 5000-5001" in messages[1]


def test_a_production_vpc_needs_a_flow_log() -> None:
    always = {"production": "always"}
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.42.0.0/16"}, name="vpc")
    flow = resource("aws:ec2/flowLog:FlowLog", {"trafficType": "ALL"}, name="flow", dependencies=[vpc])
    assert run("vpc-flow-logs-in-production", stack_args([vpc, flow], config=always)) == []
    [message] = run("vpc-flow-logs-in-production", stack_args([vpc], config=always)) or []
    assert message.startswith("vpc (Vpc) has no flow log") and "aws.ec2.FlowLog" in message
    assert run("vpc-flow-logs-in-production", stack_args([vpc], config={"production": "never"})) is NOT_APPLICABLE
