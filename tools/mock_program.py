"""Run a Pulumi Python program under mocks and record everything it declares.

The recording monitor keeps each registration's type, name, parent, inputs (secrets kept
wrapped in `Secret`), options and outputs, and re-applies the `additionalSecretOutputs` a
provider declares (the stock mock monitor drops them), so "a secret stays secret" can be
asserted. `Mocks` answers with realistic outputs (ARNs, DNS names, PEMs) per resource type.
"""

from __future__ import annotations

import hashlib
import runpy
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.stack_config import Project, load_project, load_stack_config

ACCOUNT = "123456789012"
ELB_ACCOUNT = "156460612806"
GCP_PROJECT = "mock-project"  # what a gcp resource without `project` gets (the provider default)
AZURE_SUBSCRIPTION = "6b1e7d8a-2f4c-4e21-9a0d-3c5b7e9f1a24"
AZURE_TENANT = "0f3c9a52-7d18-4b6e-a2c4-58e1d9b7c306"
REGION = "us-east-1"


class InvokeFailure(Exception):
    """Raised by a mock invoke answer: the invoke fails as a provider's failed lookup does (the
    program sees `invoke of <token> failed: <reason>` and may catch it)."""


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret (an input, output or stack output)."""

    value: Any


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]  # engine (camelCase) names; secrets as Secret
    outputs: dict[str, Any]
    parent: str = ""
    custom: bool = True
    provider: str = ""  # `urn::id` of its explicit provider, as the monitor hears it
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input -> URNs it came from
    additional_secret_outputs: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # stack outputs; secrets as Secret

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]


def unwrap(value: Any) -> Any:
    """The plain value, with every Secret opened (for asserting content)."""
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def plaintext_leaks(value: Any, secrets: set[str], path: str = "") -> list[str]:
    """Paths under `value` where any of `secrets` appears outside a Secret."""
    if isinstance(value, Secret):
        return []
    if isinstance(value, dict):
        return [leak for k, v in value.items() for leak in plaintext_leaks(v, secrets, f"{path}.{k}")]
    if isinstance(value, list):
        return [leak for i, v in enumerate(value) for leak in plaintext_leaks(v, secrets, f"{path}[{i}]")]
    if isinstance(value, str) and any(s and s in value for s in secrets):
        return [path or "."]
    return []


def _keep_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return Secret(_keep_secrets(value.get("value")))
        return {k: _keep_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keep_secrets(v) for v in value]
    return value


def _wrap_secret(value: Any) -> Any:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class DuplicateUrn(RuntimeError):
    """Two registrations of one URN: `pulumi up` fails the program with this message."""


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.duplicates: list[str] = []  # URNs registered a second time

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if urn in self.resources:  # the engine refuses it: run_program raises once the program is done
            self.duplicates.append(urn)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=self.resources[urn].id)
        raw = rpc.deserialize_properties(request.object, keep_internal=True)
        inputs = _keep_secrets(raw)
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=unwrap(inputs),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(args)
        secret_outputs = set(request.additionalSecretOutputs)
        # an output that echoes a secret input stays secret, as the engine keeps it
        secret_outputs |= {k for k, v in inputs.items() if isinstance(v, Secret)}
        wire = {k: _wrap_secret(v) if k in secret_outputs else v for k, v in state.items()}
        obj_proto = _sync_await(rpc.serialize_properties(wire, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", state)
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                outputs={k: Secret(v) if k in secret_outputs else v for k, v in state.items()},
                provider=request.provider,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj_proto)


def loaded_provider_modules() -> list[str]:
    """Provider SDK modules this interpreter has really imported. Pulumi SDKs register their
    submodules as lazy placeholders in sys.modules; only a first use loads one."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith("pulumi_") and type(module).__name__ != "_LazyModule"
    )


def _fake(name: str, length: int = 24, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    digest = hashlib.sha256(name.encode()).digest()
    while len(digest) < length:
        digest += hashlib.sha256(digest).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _pem(kind: str, name: str) -> str:
    return f"-----BEGIN {kind}-----\nMOCK{_fake(name, 48)}\n-----END {kind}-----\n"


# the order of P-256's group: a private value is 1..n-1
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _ecdsa_key(name: str) -> dict[str, str]:
    """A real P-256 key, the same for the same resource name, in the forms pulumi-tls outputs
    (private_key_pem is SEC 1 `EC PRIVATE KEY` for ECDSA), so what the program derives from it
    (cosign's key file) can be checked."""
    value = int.from_bytes(hashlib.sha256(name.encode()).digest()) % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(value, ec.SECP256R1())
    none = serialization.NoEncryption()
    return {
        "privateKeyPem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, none
        ).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none
        ).decode(),
        "publicKeyPem": key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    }


def aws_id(kind: str, name: str) -> str:
    """The id the mocks give the AWS resource `name` (`kind`: vpc, subnet, sg, ...); tests map ids back."""
    return f"{kind}-{_fake(name, 17, '0123456789abcdef')}"


def _uuid(name: str) -> str:
    h = _fake(name, 32, "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _name(args: MockResourceArgs) -> str:
    """The physical name: the one given, or what autonaming makes of a prefix or the resource name."""
    given = args.inputs.get("name")
    if given:
        return str(given)
    prefix = args.inputs.get("namePrefix") or f"{args.name[:24]}-"
    return f"{prefix}{_fake(args.name, 7)}"


# computed outputs per resource type; generic AWS ARNs are added for every aws: type
ComputedOutputs = Callable[[MockResourceArgs], dict[str, Any]]
COMPUTED: dict[str, ComputedOutputs] = {
    "random:index/randomPassword:RandomPassword": lambda a: {
        "result": _fake(a.name, int(a.inputs.get("length", 16))),
        "bcryptHash": "$2a$10$" + _fake(a.name + "bcrypt", 53),
    },
    "random:index/randomString:RandomString": lambda a: {"result": _fake(a.name, int(a.inputs.get("length", 16)))},
    "tls:index/privateKey:PrivateKey": lambda a: (
        _ecdsa_key(a.name)
        if a.inputs.get("algorithm") == "ECDSA"
        else {
            "privateKeyPem": _pem("PRIVATE KEY", a.name),
            "privateKeyPemPkcs8": _pem("PRIVATE KEY", a.name),
            "publicKeyPem": _pem("PUBLIC KEY", a.name),
        }
    ),
    "tls:index/selfSignedCert:SelfSignedCert": lambda a: {"certPem": _pem("CERTIFICATE", a.name)},
    "tls:index/locallySignedCert:LocallySignedCert": lambda a: {"certPem": _pem("CERTIFICATE", a.name)},
    "tls:index/certRequest:CertRequest": lambda a: {"certRequestPem": _pem("CERTIFICATE REQUEST", a.name)},
    "docker:index/remoteImage:RemoteImage": lambda a: {"imageId": "sha256:" + _fake(a.name, 64, "0123456789abcdef")},
    "aws:s3/bucket:Bucket": lambda a: {
        "bucket": (a.inputs.get("bucket") or a.inputs.get("bucketPrefix", "") + _fake(a.name, 12)),
        "region": REGION,
        "bucketDomainName": f"{a.inputs.get('bucketPrefix', '')}{_fake(a.name, 12)}.s3.amazonaws.com",
    },
    # aws: an "id" here becomes the resource id (AWS ids have a shape the program may rely on)
    "aws:ec2/vpc:Vpc": lambda a: {"id": aws_id("vpc", a.name)},
    "aws:ec2/subnet:Subnet": lambda a: {"id": aws_id("subnet", a.name)},
    "aws:ec2/internetGateway:InternetGateway": lambda a: {"id": aws_id("igw", a.name)},
    "aws:ec2/eip:Eip": lambda a: {"id": aws_id("eipalloc", a.name), "publicIp": "203.0.113.10"},
    "aws:ec2/natGateway:NatGateway": lambda a: {"id": aws_id("nat", a.name)},
    "aws:ec2/routeTable:RouteTable": lambda a: {"id": aws_id("rtb", a.name)},
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda a: {"id": aws_id("vpce", a.name)},
    "aws:ec2/securityGroup:SecurityGroup": lambda a: {"id": aws_id("sg", a.name)},
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": lambda a: {"id": aws_id("sg", a.name)},
    "aws:kms/key:Key": lambda a: {
        "id": _uuid(a.name),  # a key's id is its key id
        "keyId": _uuid(a.name),
        "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{_uuid(a.name)}",
    },
    "aws:iam/role:Role": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{_name(a)}",
        "uniqueId": "AROA" + _fake(a.name, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    },
    "aws:secretsmanager/secret:Secret": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{_name(a)}-{_fake(a.name, 6)}",
    },
    # a new version id whenever the value changes, as Secrets Manager does
    "aws:secretsmanager/secretVersion:SecretVersion": lambda a: {
        "versionId": _uuid(f"{a.name}{a.inputs.get('secretString')}"),
    },
    # the provider strips the ":*" the API returns from the log group ARN
    "aws:cloudwatch/logGroup:LogGroup": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{_name(a)}",
    },
    "aws:ecs/cluster:Cluster": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{_name(a)}",
    },
    "aws:ecs/taskDefinition:TaskDefinition": lambda a: {
        "revision": 1,
        "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{a.inputs.get('family', a.name)}:1",
        "arnWithoutRevision": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{a.inputs.get('family', a.name)}",
    },
    "aws:ecs/service:Service": lambda a: {"name": _name(a)},
    "aws:lb/loadBalancer:LoadBalancer": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{a.name[:24]}/{_fake(a.name, 16, '0123456789abcdef')}",
        "arnSuffix": f"app/{a.name[:24]}/{_fake(a.name, 16, '0123456789abcdef')}",
        "dnsName": f"{a.name[:24]}-{_fake(a.name, 10, '0123456789')}.{REGION}.elb.amazonaws.com",
        "zoneId": "Z35SXDOTRQ7X7K",
    },
    "aws:lb/targetGroup:TargetGroup": lambda a: {
        "name": _name(a),
        "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{a.name[:24]}/{_fake(a.name, 16, '0123456789abcdef')}",
        "arnSuffix": f"targetgroup/{a.name[:24]}/{_fake(a.name, 16, '0123456789abcdef')}",
    },
    "aws:acm/certificate:Certificate": lambda a: {
        "arn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{_uuid(a.name)}",
        "domainValidationOptions": [
            {
                "domainName": a.inputs["domainName"],
                "resourceRecordName": f"_{_fake(a.name, 32, '0123456789abcdef')}.{a.inputs['domainName']}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_fake(a.name + 'v', 32, '0123456789abcdef')}.xlfgrmvvlj.acm-validations.aws.",
            }
        ]
        if a.inputs.get("validationMethod") == "DNS"
        else [],
    },
    "aws:route53/record:Record": lambda a: {"fqdn": str(a.inputs.get("name", "")).rstrip(".")},
    "aws:ecr/repository:Repository": lambda a: {
        "registryId": ACCOUNT,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{a.inputs['region']}.amazonaws.com/{a.inputs['name']}",
        "arn": f"arn:aws:ecr:{a.inputs['region']}:{ACCOUNT}:repository/{a.inputs['name']}",
    },
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": lambda a: {"registryId": ACCOUNT},
    # Google: ids as the provider returns them; the project number is made up from the project id
    "gcp:artifactregistry/repository:Repository": lambda a: {
        "id": f"projects/{a.inputs.get('project', GCP_PROJECT)}/locations/{a.inputs['location']}/repositories/{a.inputs['repositoryId']}",
        "name": a.inputs["repositoryId"],
    },
    "gcp:projects/serviceIdentity:ServiceIdentity": lambda a: {
        "email": f"service-{_project_number(a.inputs.get('project', GCP_PROJECT))}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
        "member": f"serviceAccount:service-{_project_number(a.inputs.get('project', GCP_PROJECT))}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    },
    "gcp:kms/keyRing:KeyRing": lambda a: {
        "id": f"projects/{a.inputs.get('project', GCP_PROJECT)}/locations/{a.inputs['location']}/keyRings/{a.inputs['name']}"
    },
    "gcp:kms/cryptoKey:CryptoKey": lambda a: {"id": f"{a.inputs['keyRing']}/cryptoKeys/{a.inputs['name']}"},
    "gcp:projects/iAMCustomRole:IAMCustomRole": lambda a: {
        "name": f"projects/{a.inputs.get('project', GCP_PROJECT)}/roles/{a.inputs['roleId']}"
    },
    "gcp:secretmanager/secret:Secret": lambda a: {
        "id": f"projects/{a.inputs.get('project', GCP_PROJECT)}/secrets/{a.inputs['secretId']}",
        "name": f"projects/{_project_number(a.inputs.get('project', GCP_PROJECT))}/secrets/{a.inputs['secretId']}",
    },
    "gcp:secretmanager/secretVersion:SecretVersion": lambda a: {
        "name": f"{a.inputs['secret']}/versions/1",
        "version": "1",
    },
    "aws:elasticache/subnetGroup:SubnetGroup": lambda a: {"name": _name(a)},
    "aws:elasticache/parameterGroup:ParameterGroup": lambda a: {"name": _name(a)},
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda a: {
        "primaryEndpointAddress": f"master.{a.name}.{_fake(a.name, 6)}.use1.cache.amazonaws.com",
        "readerEndpointAddress": f"replica.{a.name}.{_fake(a.name, 6)}.use1.cache.amazonaws.com",
        "memberClusters": [f"{a.name}-00{i + 1}" for i in range(int(a.inputs.get("numCacheClusters", 1)))],
    },
}


TWO_ZONE_REGIONS = frozenset({"us-west-1"})  # offers new accounts only two zones


def _zones(args: MockCallArgs) -> dict[str, Any]:
    region = str(args.args.get("region") or REGION)
    letters = "ab" if region in TWO_ZONE_REGIONS else "abc"
    names = [f"{region}{z}" for z in letters]
    return {"names": names, "zoneIds": [f"{region[:3]}{region[-1]}-az{i + 1}" for i in range(len(names))], "id": region}


def _azure_group(args: MockResourceArgs) -> str:
    return f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{args.inputs['resourceGroupName']}"


def _azure_registry(args: MockResourceArgs) -> str:
    return f"{_azure_group(args)}/providers/Microsoft.ContainerRegistry/registries/{args.inputs['registryName']}"


def _azure_vault(args: MockResourceArgs) -> str:
    return f"{_azure_group(args)}/providers/Microsoft.KeyVault/vaults/{args.inputs['vaultName']}"


def _azure_child(kind: str, name_input: str) -> ComputedOutputs:
    """A registry's child resource (replications, cacheRules, ...): its ARM id under the registry."""
    return lambda a: {"id": f"{_azure_registry(a)}/{kind}/{a.inputs[name_input]}", "name": a.inputs[name_input]}


def _azure_principal(name: str) -> dict[str, str]:
    return {"principalId": _uuid(f"{name}-principal"), "tenantId": AZURE_TENANT, "type": "SystemAssigned"}


# Azure (azure-native): ARM ids as Resource Manager returns them, under a made-up subscription
COMPUTED.update(
    {
        "azure-native:resources:ResourceGroup": lambda a: {
            "id": _azure_group(a),
            "name": a.inputs["resourceGroupName"],
        },
        "azure-native:containerregistry:Registry": lambda a: {
            "id": _azure_registry(a),
            "name": a.inputs["registryName"],
            "loginServer": f"{str(a.inputs['registryName']).lower()}.azurecr.io",
        },
        "azure-native:containerregistry:Replication": _azure_child("replications", "replicationName"),
        "azure-native:containerregistry:CacheRule": _azure_child("cacheRules", "cacheRuleName"),
        "azure-native:containerregistry:ScopeMap": _azure_child("scopeMaps", "scopeMapName"),
        "azure-native:containerregistry:Token": _azure_child("tokens", "tokenName"),
        "azure-native:containerregistry:Task": _azure_child("tasks", "taskName"),
        "azure-native:containerregistry:Webhook": _azure_child("webhooks", "webhookName"),
        "azure-native:containerregistry:CredentialSet": lambda a: {
            **_azure_child("credentialSets", "credentialSetName")(a),
            "identity": {**a.inputs.get("identity", {}), **_azure_principal(a.name)},
        },
        "azure-native:managedidentity:UserAssignedIdentity": lambda a: {
            "id": f"{_azure_group(a)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{a.inputs['resourceName']}",
            "name": a.inputs["resourceName"],
            "principalId": _uuid(f"{a.name}-principal"),
            "clientId": _uuid(f"{a.name}-client"),
            "tenantId": AZURE_TENANT,
        },
        "azure-native:keyvault:Vault": lambda a: {
            "id": _azure_vault(a),
            "name": a.inputs["vaultName"],
            "properties": {**a.inputs["properties"], "vaultUri": f"https://{a.inputs['vaultName']}.vault.azure.net/"},
        },
        "azure-native:keyvault:Key": lambda a: {
            "id": f"{_azure_vault(a)}/keys/{a.inputs['keyName']}",
            "name": a.inputs["keyName"],
            "keyUri": f"https://{a.inputs['vaultName']}.vault.azure.net/keys/{a.inputs['keyName']}",
            "keyUriWithVersion": f"https://{a.inputs['vaultName']}.vault.azure.net/keys/{a.inputs['keyName']}/"
            + _fake(a.name, 32, "0123456789abcdef"),
        },
        "azure-native:keyvault:Secret": lambda a: {
            "id": f"{_azure_vault(a)}/secrets/{a.inputs['secretName']}",
            "name": a.inputs["secretName"],
            "properties": {
                **a.inputs["properties"],
                "secretUri": f"https://{a.inputs['vaultName']}.vault.azure.net/secrets/{a.inputs['secretName']}",
            },
        },
        "azure-native:authorization:RoleAssignment": lambda a: {
            "id": f"{a.inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{_uuid(a.name)}"
        },
        "azure-native:authorization:ManagementLockByScope": lambda a: {
            "id": f"{a.inputs['scope']}/providers/Microsoft.Authorization/locks/{a.inputs.get('lockName', a.name)}"
        },
    }
)


def _project_number(project: str) -> str:
    return _fake(project, 12, "0123456789")


MOCK_PUBLIC_KEY_PEM = _ecdsa_key("kms-signing-key")["publicKeyPem"]  # a real one: cosign and tests parse it


def _no_such_registry(args: MockCallArgs) -> dict[str, Any]:
    """What Resource Manager answers for a registry not created yet (a test may answer otherwise)."""
    raise InvokeFailure(
        f'Status=404 Code="ResourceNotFound" Message="The Resource \'Microsoft.ContainerRegistry/registries/'
        f"{args.args.get('registryName')}' under resource group '{args.args.get('resourceGroupName')}' was not found.\""
    )


# invoke answers; `region` in their args is the calling provider's region (filled in by RealisticMocks)
CALLS: dict[str, Callable[[MockCallArgs], dict[str, Any]]] = {
    "azure-native:containerregistry:getRegistry": _no_such_registry,
    "azure-native:authorization:getClientConfig": lambda a: {
        "subscriptionId": AZURE_SUBSCRIPTION,
        "tenantId": AZURE_TENANT,
        "objectId": _uuid("deployer-object"),
        "clientId": _uuid("deployer-client"),
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "userId": "AIDA" + _fake("caller", 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "id": ACCOUNT,
    },
    "aws:index/getRegion:getRegion": lambda a: {
        "name": a.args["region"],
        "region": a.args["region"],
        "id": a.args["region"],
        "endpoint": f"ec2.{a.args['region']}.amazonaws.com",
        "description": a.args["region"],
    },
    # the ELB account of the region (terraform-provider-aws elbAccountIdPerRegionMap; eu-west-1's shown)
    "aws:elb/getServiceAccount:getServiceAccount": lambda a: {
        "id": ELB_ACCOUNT,
        "arn": f"arn:aws:iam::{ELB_ACCOUNT}:root",
        "region": a.args["region"],
    },
    # an empty registry: tests that need existing repositories pass their own answers
    "aws:ecr/getRepositories:getRepositories": lambda a: {
        "names": [],
        "id": a.args["region"],
        "region": a.args["region"],
    },
    "gcp:artifactregistry/getRepositories:getRepositories": lambda a: {
        "repositories": [],
        "id": f"projects/{a.args.get('project')}/locations/{a.args.get('location')}",
        "location": a.args.get("location"),
        "project": a.args.get("project"),
    },
    "aws:ec2/getSubnet:getSubnet": lambda a: {
        "id": a.args["id"],
        "cidrBlock": f"10.99.{int(_fake(a.args['id'], 2, '0123456789'))}.0/24",
        "vpcId": aws_id("vpc", "existing"),
    },
    # a real P-256 public key, so what reads it (cosign, tests) can parse it
    "aws:kms/getPublicKey:getPublicKey": lambda a: {
        "id": a.args["keyId"],
        "arn": a.args["keyId"],
        "keyId": a.args["keyId"],
        "customerMasterKeySpec": "ECC_NIST_P256",
        "keySpec": "ECC_NIST_P256",
        "keyUsage": "SIGN_VERIFY",
        "signingAlgorithms": ["ECDSA_SHA_256"],
        "encryptionAlgorithms": [],
        "publicKey": "",
        "publicKeyPem": MOCK_PUBLIC_KEY_PEM,
        "region": a.args.get("region", REGION),
    },
    "gcp:kms/getCryptoKeyLatestVersion:getCryptoKeyLatestVersion": lambda a: {
        "id": f"{a.args['cryptoKey']}/cryptoKeyVersions/1",
        "name": f"{a.args['cryptoKey']}/cryptoKeyVersions/1",
        "cryptoKey": a.args["cryptoKey"],
        "algorithm": "EC_SIGN_P256_SHA256",
        "protectionLevel": "SOFTWARE",
        "state": "ENABLED",
        "version": 1,
        "publicKeys": [{"algorithm": "EC_SIGN_P256_SHA256", "pem": MOCK_PUBLIC_KEY_PEM}],
    },
    "aws:index/getPartition:getPartition": lambda a: {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
        "id": "aws",
    },
}


class RealisticMocks(Mocks):
    """Outputs = inputs plus computed values; `calls` answers invokes by token."""

    def __init__(
        self,
        computed: Mapping[str, ComputedOutputs] | None = None,
        calls: Mapping[str, Callable[[MockCallArgs], dict[str, Any]]] | None = None,
    ):
        self.computed = {**COMPUTED, **(computed or {})}
        self.calls = {**CALLS, **(calls or {})}
        self.provider_regions: dict[str, str] = {}  # aws provider id -> its region

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ.startswith("aws:") and not args.inputs.get("region"):
            # pulumi-aws 7: a resource without `region` lives in its provider's region (an output then)
            provider_id = (args.provider or "").rsplit("::", 1)[-1]
            region = self.provider_regions.get(provider_id, REGION)
            args = MockResourceArgs(
                args.typ, args.name, {**args.inputs, "region": region}, args.provider, args.resource_id, args.custom
            )
        state = dict(args.inputs)
        if args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT}:{args.name}")
        compute = self.computed.get(args.typ)
        if compute:
            state.update(compute(args))
        resource_id = state.pop("id", None) or (
            state.get("bucket") if args.typ == "aws:s3/bucket:Bucket" else f"{args.name}-id"
        )
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[str(resource_id)] = str(args.inputs.get("region") or REGION)
        return str(resource_id), state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answer = self.calls.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock answer for invoke {args.token}; add one to the mocks")
        if args.token.startswith("aws:") and not args.args.get("region"):
            # as the real provider does: an invoke without a region uses its provider's
            provider_id = (args.provider or "").rsplit("::", 1)[-1]
            region = self.provider_regions.get(provider_id, REGION)
            args = MockCallArgs(token=args.token, args={**args.args, "region": region}, provider=args.provider)
        try:
            return answer(args), []  # the stock monitor iterates the failures: never None
        except InvokeFailure as failure:
            return {}, [("", str(failure))]


def run_program(
    project_dir: str | Path,
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
    mocks: RealisticMocks | None = None,
) -> ProgramRun:
    """Run the project's program for `stack` (its stack file, or `config` instead) under mocks.

    `overrides` change single keys on top, as `pulumi config set` would; `secret_keys` marks
    keys as `pulumi config set --secret` would.
    """
    project: Project = load_project(project_dir)
    if config is None:
        loaded, loaded_secret = load_stack_config(project, stack)
    else:
        loaded, loaded_secret = dict(config), []
    values = {**loaded, **(overrides or {})}
    monitor = RecordingMonitor(mocks or RealisticMocks())
    pulumi.runtime.settings.ROOT.set(None)  # a fresh Stack per run: no outputs from an earlier run
    set_mocks(monitor.mocks, project=project.name, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(values, [*loaded_secret, *secret_keys])
    root = pulumi.runtime.get_root_resource()
    added_path = str(project.directory) not in sys.path
    if added_path:
        sys.path.insert(0, str(project.directory))

    def program() -> None:
        runpy.run_path(str(project.main), run_name="__main__")

    try:
        _sync_await(run_pulumi_func(program))
    finally:
        if added_path:
            sys.path.remove(str(project.directory))
    if monitor.duplicates:  # as the engine fails it (pulumi pkg/resource/deploy/step_generator.go, diag 2001)
        raise DuplicateUrn(f"Duplicate resource URN '{monitor.duplicates[0]}'; try giving it a unique name")
    run = ProgramRun(project=project.name, stack=stack, resources=monitor.registrations)
    for name, value in getattr(root, "outputs", {}).items():
        run.outputs[name] = _resolve(value)
    return run


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    is_secret = _sync_await(output.is_secret())
    resolved = _keep_secrets(resolved)
    return Secret(resolved) if is_secret else resolved
