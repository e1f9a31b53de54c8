"""An IAM role for exactly one Kubernetes service account (IRSA): the trust policy pins the
cluster's OIDC issuer, the namespace and the service account name."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass
class ServiceAccountRoleArgs:
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]  # issuer without https://
    namespace: str
    service_account: str
    tags: dict[str, str]
    policy: pulumi.Input[str] | None = None  # inline least-privilege policy document (JSON)
    managed_policy_arns: Sequence[str] = field(default_factory=tuple)
    role_name: str | None = None  # deterministic physical name, when other policies must name it


def trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    issuer = issuer.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


class ServiceAccountRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceAccountRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:ServiceAccountRole", name, None, opts)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_provider_url).apply(
            lambda values: trust_policy(values[0], values[1], args.namespace, args.service_account)
        )
        self.role = aws.iam.Role(
            name,
            name=args.role_name,
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags={**args.tags, "service-account": f"{args.namespace}/{args.service_account}"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.policy is not None:
            aws.iam.RolePolicy(name, role=self.role.id, policy=args.policy, opts=pulumi.ResourceOptions(parent=self))
        for arn in args.managed_policy_arns:
            aws.iam.RolePolicyAttachment(
                f"{name}-{arn.rsplit('/', 1)[-1]}",
                role=self.role.name,
                policy_arn=arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.arn = self.role.arn
        self.register_outputs({"roleArn": self.arn})


def statement(actions: Sequence[str], resources: Sequence[str] | str, **condition: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resources}
    if condition:
        result["Condition"] = condition
    return result


@dataclass(frozen=True)
class ClusterOidc:
    """The cluster's OIDC provider, which every IRSA role trusts."""

    provider_arn: pulumi.Input[str]
    provider_url: pulumi.Input[str]

    def role(
        self,
        name: str,
        parent: pulumi.Resource,
        namespace: str,
        service_account: str,
        tags: dict[str, str],
        policy: pulumi.Input[str] | None = None,
        managed_policy_arns: Sequence[str] = (),
        aliases: Sequence[pulumi.Alias] = (),
    ) -> ServiceAccountRole:
        return ServiceAccountRole(
            name,
            ServiceAccountRoleArgs(
                oidc_provider_arn=self.provider_arn,
                oidc_provider_url=self.provider_url,
                namespace=namespace,
                service_account=service_account,
                tags=tags,
                policy=policy,
                managed_policy_arns=managed_policy_arns,
            ),
            pulumi.ResourceOptions(parent=parent, aliases=list(aliases) or None),
        )
