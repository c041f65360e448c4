"""Where the registry runs on AWS: a VPC spread over two or three zones, or one the user has.

A new VPC gets, per zone, a public subnet (load balancer, NAT gateway) and a private one
(tasks, Redis). Tasks need outbound HTTPS to pull the public registry and nginx images and to
reach Secrets Manager and CloudWatch Logs, so private subnets route through NAT: one gateway
per zone in production (losing a zone never cuts the others' egress), a single one otherwise
(~$32/month each plus traffic). Blob traffic to S3, by far the largest, goes through a free
S3 gateway endpoint instead, so it never pays NAT's per-GB processing charge.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws import iam as aws_iam
from components.config import Network

MAX_ZONES = 3
VPC_CIDR = "10.42.0.0/16"


@dataclass(frozen=True)
class AwsNetworkArgs:
    region: str
    existing: Network | None = None  # deploy into this VPC; nothing is created
    nat_per_zone: bool = False
    cidr: str = VPC_CIDR
    flow_log_retention_days: int | None = None  # record all traffic of a new VPC (CKV2_AWS_11); None: off
    flow_log_kms_key_arn: pulumi.Input[str] | None = None  # encrypts the flow log group (CKV_AWS_158)


class AwsNetwork(pulumi.ComponentResource):
    """Needs an `aws` provider from the caller; `zones` is empty for an existing VPC."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    public_subnet_cidrs: list[pulumi.Output[str]]  # where the load balancer's nodes live
    private_subnet_ids: list[pulumi.Output[str]]
    zones: list[str]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_network:AwsNetwork", name, None, opts)
        if args.existing is not None:
            self.vpc_id = pulumi.Output.from_input(args.existing.vpc_id)
            self.public_subnet_ids = [pulumi.Output.from_input(s) for s in args.existing.public_subnet_ids]
            self.public_subnet_cidrs = [
                aws.ec2.get_subnet_output(id=s, opts=pulumi.InvokeOutputOptions(parent=self)).cidr_block
                for s in args.existing.public_subnet_ids
            ]
            self.private_subnet_ids = [pulumi.Output.from_input(s) for s in args.existing.private_subnet_ids]
            self.zones = []
        else:
            self._create(name, args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _create(self, name: str, args: AwsNetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        available = aws.get_availability_zones(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOptions(parent=self),
        )
        self.zones = sorted(available.names)[:MAX_ZONES]
        if len(self.zones) < 2:
            raise ValueError(f"{args.region} offers {len(self.zones)} availability zone(s); the registry needs 2")
        private_cidrs, public_cidrs = subnet_cidrs(args.cidr, len(self.zones))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True, enable_dns_hostnames=True, opts=child
        )
        # no rules: nothing lands in the default group by accident and gets open access
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)
        public, nats = self._public_subnets(name, args, vpc, public_cidrs)
        private, private_routes = self._private_subnets(name, args, vpc, private_cidrs, nats)
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[r.id for r in private_routes],
            opts=child,
        )
        if args.flow_log_retention_days is not None:
            self._flow_logs(name, vpc, args)
        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.public_subnet_cidrs = [s.cidr_block for s in public]
        self.private_subnet_ids = [s.id for s in private]

    def _public_subnets(
        self, name: str, args: AwsNetworkArgs, vpc: aws.ec2.Vpc, cidrs: list[str]
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.NatGateway]]:
        """A public subnet per zone routed to the internet gateway; a NAT gateway in the first (or each)."""
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            opts=child,
        )
        subnets, nats = [], []
        for i, zone in enumerate(self.zones):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=cidrs[i],
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            subnets.append(subnet)
            if args.nat_per_zone or i == 0:
                address = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        subnet_id=subnet.id,
                        allocation_id=address.id,
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
        return subnets, nats

    def _private_subnets(
        self, name: str, args: AwsNetworkArgs, vpc: aws.ec2.Vpc, cidrs: list[str], nats: list[aws.ec2.NatGateway]
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.RouteTable]]:
        """A private subnet per zone, out through its zone's NAT gateway (or the only one)."""
        child = pulumi.ResourceOptions(parent=self)
        subnets, tables = [], []
        for i, zone in enumerate(self.zones):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=cidrs[i],
                tags={"Name": f"{name}-private-{zone}", "tier": "private"},
                opts=child,
            )
            routes = aws.ec2.RouteTable(f"{name}-private-{zone}", vpc_id=vpc.id, opts=child)
            aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=routes.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i if args.nat_per_zone else 0].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            subnets.append(subnet)
            tables.append(routes)
        return subnets, tables

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, args: AwsNetworkArgs) -> None:
        """Accepted and rejected traffic of the whole VPC into CloudWatch Logs, through a role only
        this account's VPC Flow Logs can assume."""
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        logs = aws.cloudwatch.LogGroup(
            flow_log_group_resource_name(name),
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.flow_log_kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC Flow Logs: write the registry VPC's flow log group",
            assume_role_policy=json.dumps(aws_iam.flow_logs_trust(account, args.region)),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(aws_iam.flow_logs_policy(logs.arn)),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def flow_log_group_resource_name(network: str) -> str:
    """The flow log group's resource name in the AwsNetwork named `network` (autonamed after it)."""
    return f"{network}-flow-logs"


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private, public) blocks: a /20 per zone for tasks and Redis (4,091 addresses), a /24 for the rest."""
    blocks = list(ipaddress.IPv4Network(vpc_cidr).subnets(new_prefix=20))
    private = [str(b) for b in blocks[:zones]]
    public = [str(b) for b in list(blocks[-4].subnets(new_prefix=24))[:zones]]
    return private, public
