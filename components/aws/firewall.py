"""Security groups that admit only what each hop needs.

    allowedCidrs ──443/80 (+ mirror ports)──> load balancer ──edge port(s)──> tasks ──6379──> Redis
                                                            └──443 (+ mirror upstream ports)──> S3, Secrets
                                                               Manager, logs, images, mirror upstreams

Rules are separate resources (not inline) so each is one line in a diff and groups can
reference each other without a cycle. The groups get no other rule: a new security group
created by the provider has its default allow-all egress removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

HTTPS, HTTP = 443, 80


@dataclass(frozen=True)
class AwsFirewallArgs:
    vpc_id: pulumi.Input[str]
    allowed_cidrs: list[str]  # IPv4 (the config model refuses IPv6)
    edge_port: int  # where the tasks' edge listens
    cache_port: int | None  # None: no Redis
    mirror_ports: tuple[tuple[int, int], ...] = ()  # (the port clients use, the edge's port) per root mirror
    upstream_ports: tuple[int, ...] = ()  # mirror upstreams served on other ports than 443


class AwsFirewall(pulumi.ComponentResource):
    load_balancer: aws.ec2.SecurityGroup
    tasks: aws.ec2.SecurityGroup
    cache: aws.ec2.SecurityGroup | None

    def __init__(self, name: str, args: AwsFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_firewall:AwsFirewall", name, None, opts)
        self.load_balancer = self._group(
            name, args, "load-balancer", "registry load balancer: HTTPS and HTTP from the allowed CIDRs"
        )
        self.tasks = self._group(name, args, "tasks", "registry tasks: the edge port from the load balancer only")
        self.cache = (
            self._group(name, args, "cache", "registry Redis: 6379 from the tasks only") if args.cache_port else None
        )
        self._public_ingress(name, args)
        self._hop(name, "load-balancer", self.load_balancer, "tasks", self.tasks, args.edge_port, "edge (HTTPS)")
        for _, edge_port in args.mirror_ports:
            self._hop(
                name,
                "load-balancer",
                self.load_balancer,
                "tasks",
                self.tasks,
                edge_port,
                "edge (a mirror's root)",
                True,
            )
        self._task_egress(name, args)
        if self.cache is not None and args.cache_port is not None:
            self._hop(name, "tasks", self.tasks, "cache", self.cache, args.cache_port, "Redis (TLS)")
        self.register_outputs(
            {
                "load_balancer": self.load_balancer.id,
                "tasks": self.tasks.id,
                "cache": self.cache.id if self.cache is not None else None,
            }
        )

    def _group(self, name: str, args: AwsFirewallArgs, role: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{name}-{role}",
            vpc_id=args.vpc_id,
            description=description,
            tags={"Name": f"{name}-{role}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _public_ingress(self, name: str, args: AwsFirewallArgs) -> None:
        """The load balancer's listeners, from the allowed CIDRs only."""
        public = {HTTPS: "clients (HTTPS)", HTTP: "clients (HTTP, redirected)"}
        public |= {port: "clients (a mirror's own listener)" for port, _ in args.mirror_ports}
        for i, cidr in enumerate(args.allowed_cidrs):
            for port, description in public.items():
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-load-balancer-in-{port}-{i}",
                    security_group_id=self.load_balancer.id,
                    description=description,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    opts=pulumi.ResourceOptions(parent=self),
                )

    def _task_egress(self, name: str, args: AwsFirewallArgs) -> None:
        """HTTPS out (AWS APIs, image pulls) and the mirrors' upstream ports."""
        child = pulumi.ResourceOptions(parent=self)
        for port in args.upstream_ports:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-tasks-out-{port}",
                security_group_id=self.tasks.id,
                description="a mirror's upstream registry",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-out-https",
            security_group_id=self.tasks.id,
            description="S3 (gateway endpoint), Secrets Manager, CloudWatch Logs, image pulls",
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )

    def _hop(
        self,
        name: str,
        source_role: str,
        source: aws.ec2.SecurityGroup,
        target_role: str,
        target: aws.ec2.SecurityGroup,
        port: int,
        description: str,
        named_by_port: bool = False,
    ) -> None:
        """source may open `port` on target, and target accepts it from source only. The first hop
        between two groups is named by their roles alone, further ones also by port."""
        child = pulumi.ResourceOptions(parent=self)
        suffix = f"-{port}" if named_by_port else ""
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-{source_role}-to-{target_role}{suffix}",
            security_group_id=source.id,
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=target.id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-{target_role}-from-{source_role}{suffix}",
            security_group_id=target.id,
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=source.id,
            opts=child,
        )
