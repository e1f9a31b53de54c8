"""Mock engine for the offline plan: deterministic fake outputs, and a monitor that records every
registration (type, parent, provider, inputs, options) exactly as the engine would receive it."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

from catalog.model import deployer_name, plan_role_name

OFFLINE_ACCOUNT_ID = "123456789012"
SECRET = "[secret]"
OFFLINE_PASSWORD = "offline-plan-not-a-secret"  # every generated password and read secret offline
UNKNOWN = "[unknown]"
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_UNKNOWN_VALUE = rpc.UNKNOWN


def _hex(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def plain(value: Any) -> Any:
    """The engine's wire value as JSON: secrets masked, resource references as URNs."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only floats; integers read back as integers
    return value


def offline_key_id(name: str) -> str:
    """The fake KMS key id of the key registered as `name` (the rehearsal matches ARNs on it)."""
    return f"{_hex(name, length=8)}-0000-4000-8000-{_hex('aws:kms/key:Key', name, length=12)}"


def offline_user_pool_id(region: str, name: str) -> str:
    """The fake Cognito user pool id of the pool registered as `name` in `region` (the offline DR
    gate hands the same id to the peer stack, as planner/gates.py does from the real outputs)."""
    return f"{region}_{_hex(name, length=9)}"


def renamed_from(urn: str, aliases: list[str]) -> list[str]:
    """The plan URNs this resource had before a rename or a move to another parent (its aliases in
    the plan's URN form: the immediate parent's type, then its own). The providers also alias
    every resource to its older type tokens in the same place; those are left out."""
    prefix, own_type, _ = urn.rsplit("::", 2)
    found = set()
    for alias in aliases:
        qualified_type, name = alias.rsplit("::", 2)[-2:]
        chain = [t for t in qualified_type.split("$") if t != "pulumi:pulumi:Stack"]
        old = f"{prefix}::{'$'.join(chain[-2:])}::{name}"
        if old != urn and chain[-1] == own_type.rsplit("$", 1)[-1]:
            found.add(old)
    return sorted(found)


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    options: dict[str, Any]
    providers: dict[str, str] = field(default_factory=dict)


class PlanMocks(pulumi.runtime.Mocks):
    """Fake cloud answers: ids, ARNs and the few computed outputs the program reads."""

    def __init__(self, region: str, stacks: dict[str, dict[str, Any]] | None = None) -> None:
        self.region = region
        self.monitor: RecordingMonitor | None = None
        self.stacks = dict(stacks or {})  # qualified stack name -> the outputs its own plan recorded

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{OFFLINE_ACCOUNT_ID}:{resource}"

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return self._call(args), []

    def _call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": OFFLINE_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:role/offline-plan",
                "userId": "offline-plan",
                "id": OFFLINE_ACCOUNT_ID,
            }
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{suffix}" for suffix in "abcd"]
            return {"names": names, "zoneIds": [f"use-az{i}" for i in range(1, 5)], "id": self.region}
        if args.token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            return {"randomPassword": OFFLINE_PASSWORD, "id": "offline"}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret = json.dumps({"username": "offline", "password": OFFLINE_PASSWORD})
            return {
                "secretId": args.args.get("secretId"),
                "secretString": secret,
                "createdDate": "2026-01-01T00:00:00Z",
                "versionId": "offline",
                "id": "offline",
            }
        if args.token == "aws:ecr/getImage:getImage":  # a fake digest, stable per registry/repository:tag
            a = args.args
            key = f"{a.get('registryId')}/{a.get('repositoryName')}:{a.get('imageTag')}"
            digest = f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
            return {**a, "imageDigest": digest, "id": digest}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        rid = f"{name}-{_hex(typ, name, length=8)}"
        state: dict[str, Any] = dict(inputs)
        if typ.startswith("pulumi:providers:"):
            return rid, state
        if typ == "pulumi:pulumi:StackReference":
            return rid, {
                "name": inputs.get("name"),
                "outputs": self._stack_outputs(str(inputs.get("name"))),
                "secretOutputNames": [],
            }
        service = typ.split(":")[1].split("/")[0]
        physical = inputs.get("name") or inputs.get("identifier") or name
        state.setdefault("arn", self._arn(service, physical))

        if typ == "aws:kms/key:Key":
            key_id = offline_key_id(name)
            rid = key_id
            state.update(keyId=key_id, arn=self._arn("kms", f"key/{key_id}"))
        elif typ == "aws:ec2/vpc:Vpc":
            rid = f"vpc-{_hex(name)}"
        elif typ == "aws:ec2/subnet:Subnet":
            rid = f"subnet-{_hex(name)}"
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            rid = f"sg-{_hex(name)}"
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            if inputs.get("vpcEndpointType") == "Gateway":  # AWS's prefix list of the service
                state["prefixListId"] = f"pl-{_hex(str(inputs.get('serviceName')), length=8)}"
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            rid = f"lt-{_hex(name)}"
            state.update(latestVersion=1, defaultVersion=1)
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = self._arn("logs", f"log-group:{physical}")
        elif typ == "aws:iam/role:Role":
            role = inputs.get("name") or f"{name}-{_hex(name, length=7)}"
            state.update(arn=f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:role/{role}", name=role)
        elif typ == "aws:lambda/function:Function":
            state["arn"] = self._arn("lambda", f"function:{physical}")
            state["invokeArn"] = (
                f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations"
            )
        elif typ == "aws:sqs/queue:Queue":
            rid = f"https://sqs.{self.region}.amazonaws.com/{OFFLINE_ACCOUNT_ID}/{physical}"
            state.update(url=rid, arn=self._arn("sqs", physical))
        elif typ == "aws:kinesis/stream:Stream":
            rid = self._arn("kinesis", f"stream/{physical}")
            state["arn"] = rid
        elif typ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            rid = self._arn("firehose", f"deliverystream/{physical}")
            state["arn"] = rid
        elif typ == "aws:sns/topic:Topic":
            rid = self._arn("sns", physical)
            state["arn"] = rid
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or name
            rid = bucket
            state.update(arn=f"arn:aws:s3:::{bucket}", bucket=bucket)
        elif typ == "aws:dynamodb/table:Table":
            rid = physical
            arn = self._arn("dynamodb", f"table/{physical}")
            state.update(arn=arn)
            if inputs.get("streamEnabled"):
                state.update(streamArn=f"{arn}/stream/2026-01-01T00:00:00.000", streamLabel="2026-01-01T00:00:00.000")
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            state.update(
                arn=self._arn("elasticloadbalancing", f"loadbalancer/app/{physical}/{_hex(name, length=16)}"),
                dnsName=f"{physical}-{_hex(name, length=10)}.{self.region}.elb.amazonaws.com",
                zoneId="Z35SXDOTRQ7X7K",
            )
        elif typ == "aws:lb/targetGroup:TargetGroup":
            state["arn"] = self._arn("elasticloadbalancing", f"targetgroup/{physical}/{_hex(name, length=16)}")
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            group = inputs.get("replicationGroupId", name)
            state["primaryEndpointAddress"] = f"master.{group}.{_hex(name, length=6)}.{self.region}.cache.amazonaws.com"
        elif typ == "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
            rid = self._arn("rds", f"auto-backup:ab-{_hex(name, length=26)}")
        elif typ == "aws:route53/record:Record":
            state["fqdn"] = str(inputs.get("name", name)).rstrip(".")
        elif typ == "aws:cognito/userPool:UserPool":
            rid = offline_user_pool_id(self.region, name)
            state.update(
                arn=self._arn("cognito-idp", f"userpool/{rid}"),
                endpoint=f"cognito-idp.{self.region}.amazonaws.com/{rid}",
            )
        elif typ == "aws:rds/instance:Instance":
            host = f"{physical}.{_hex(name, length=12)}.{self.region}.rds.amazonaws.com"
            state.update(
                address=host,
                endpoint=f"{host}:{int(inputs.get('port', 3306))}",
                arn=self._arn("rds", f"db:{physical}"),
                resourceId=f"db-{_hex(name, 'dbi', length=26).upper()}",
                masterUserSecrets=[
                    {
                        "secretArn": self._arn("secretsmanager", f"secret:rds!db-{_hex(name, length=12)}"),
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ],
            )
        elif typ == "aws:acm/certificate:Certificate":
            domains = [inputs.get("domainName", ""), *(inputs.get("subjectAlternativeNames") or [])]
            state["domainValidationOptions"] = [
                {
                    "domainName": d,
                    "resourceRecordName": f"_{_hex(b, length=32)}.{b}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_hex(b, 'acm', length=32)}.acm-validations.aws.",
                }
                for d in domains
                for b in [d.removeprefix("*.")]
            ]
        elif typ == "aws:ssm/parameter:Parameter":
            state["arn"] = self._arn("ssm", f"parameter{physical}")
        elif typ == "aws:apigateway/restApi:RestApi":
            rid = _hex(name, length=10)
            state.update(
                rootResourceId=_hex(name, "root", length=10),
                executionArn=self._arn("execute-api", rid),
                arn=f"arn:aws:apigateway:{self.region}::/restapis/{rid}",
            )
        elif typ == "aws:apigateway/stage:Stage":
            state["arn"] = (
                f"arn:aws:apigateway:{self.region}::/restapis/{inputs.get('restApi')}/stages/{inputs.get('stageName')}"
            )
        elif typ == "aws:apigateway/apiKey:ApiKey":
            rid = _hex(name, length=10)
            state.setdefault("value", _hex(name, "value", length=40))
        elif typ in ("aws:apigateway/usagePlan:UsagePlan", "aws:apigateway/authorizer:Authorizer"):
            rid = _hex(name, length=6)
        elif typ == "aws:apigateway/domainName:DomainName":
            state.update(
                regionalDomainName=f"d-{_hex(name, length=10)}.execute-api.{self.region}.amazonaws.com",
                regionalZoneId="Z1UJRXOUMOOFQ8",
            )
        elif typ == "eks:index:Cluster":
            state.update(self._eks_cluster(name, inputs))
        if typ.startswith("kubernetes:"):
            metadata = dict(inputs.get("metadata") or {})
            metadata.setdefault("name", name)
            state["metadata"] = metadata
        return rid, state

    def _stack_outputs(self, reference: str) -> dict[str, Any]:
        """Outputs of a referenced stack: a stack planned in this run (a tenant stack's platform),
        else the bootstrap stack's deploy runner (bootstrap/)."""
        if reference in self.stacks:
            return self.stacks[reference]
        stack = reference.rsplit("/", 1)[-1]
        return {
            "vpcId": f"vpc-{_hex(reference)}",
            "privateRouteTableIds": [f"rtb-{_hex(reference, str(i))}" for i in range(2)],
            "runnerRoleArn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:role/{deployer_name(stack)}",
            "runnerProject": deployer_name(stack),
            "planRoleArn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:role/{plan_role_name(stack)}",
        }

    def _eks_cluster(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        cluster_name = inputs.get("name") or name
        oidc_id = _hex(cluster_name, length=32).upper()
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"
        endpoint = f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com"
        cluster_sg = f"sg-{_hex(cluster_name, 'cluster')}"
        # pulumi-eks returns the underlying aws:eks/cluster:Cluster as a resource reference.
        child_urn = self._register_child(
            name,
            "aws:eks/cluster:Cluster",
            f"{name}-eksCluster",
            cluster_name,
            {
                "name": cluster_name,
                "arn": self._arn("eks", f"cluster/{cluster_name}"),
                # pulumi-eks's service role (ServiceRole `<name>-eksRole`, a random suffix)
                "roleArn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:role/{name}-eksRole-role-{_hex(name, length=7)}",
                "endpoint": endpoint,
                "version": inputs.get("version"),
                "vpcConfig": {"clusterSecurityGroupId": cluster_sg},
                "identities": [{"oidcs": [{"issuer": f"https://{issuer}"}]}],
            },
        )
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": "[offline]"}}
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", self.region],
                        }
                    },
                }
            ],
        }
        return {
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig, sort_keys=True),
            "oidcProviderArn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:oidc-provider/{issuer}",
            "oidcProviderUrl": issuer,
            "oidcIssuer": issuer,
            "clusterSecurityGroupId": f"sg-{_hex(cluster_name, 'pulumi-cluster')}",
            "nodeSecurityGroupId": f"sg-{_hex(cluster_name, 'pulumi-node')}",
            "eksCluster": {_SIG: _RESOURCE_SIG, "urn": child_urn, "id": cluster_name},
        }

    def _register_child(self, parent_name: str, typ: str, name: str, rid: str, state: dict[str, Any]) -> str:
        assert self.monitor is not None
        urn = self.monitor.make_urn("", typ, name)
        self.monitor.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, rid, state)
        return urn


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus: a record of every registration and of the stack outputs, no
    resource-reference support (remote components take resources as inputs), and `Call`."""

    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        mocks.monitor = self
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(self._record(request, response.urn))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = plain(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)

    def SupportsFeature(self, request: Any) -> Any:  # noqa: N802
        has = request.id not in ("outputValues", "resourceReferences", "aliasSpecs")
        return type("SupportsFeatureResponse", (object,), {"hasSupport": has})

    # Without alias specs the SDK sends every alias as a full URN, children's inherited ones
    # included: what the plan records, and what diffs and the rehearsal match old URNs on.
    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802
        info = super().GetDeploymentInfo(request)
        hidden = (
            resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
            resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
        )
        features = [f for f in info.supportedFeatures if f not in hidden]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def Call(self, request: Any) -> Any:  # noqa: N802 - resource methods route to Mocks.call
        return self.Invoke(request)

    @staticmethod
    def _provider_urn(reference: str) -> str | None:
        return reference.rsplit("::", 1)[0] if reference else None

    def _record(self, request: Any, urn: str) -> Registration:
        inputs = plain(json_format.MessageToDict(request.object)) if request.HasField("object") else {}
        return Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            provider=self._provider_urn(request.provider),
            inputs=inputs,
            options={
                "protect": bool(request.protect),
                "retainOnDelete": bool(request.retainOnDelete),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "ignoreChanges": list(request.ignoreChanges),
                "dependsOn": sorted(set(request.dependencies)),
                "aliases": renamed_from(urn, [a.urn for a in request.aliases if a.urn] + list(request.aliasURNs)),
            },
            providers={pkg: self._provider_urn(ref) or "" for pkg, ref in request.providers.items()},
        )
