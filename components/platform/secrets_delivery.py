"""Secrets Manager -> pods: the External Secrets Operator, and who it reads as.

The operator's own IRSA role reads only the platform's secrets and may assume no other role. A
tenant's SecretStore authenticates as a service account of its own namespace (`auth.jwt`): the
operator requests that account's token and exchanges it for the tenant's reader role, which trusts
only `system:serviceaccount:<tenant namespace>:<account>` on the cluster's OIDC issuer. For a
namespaced SecretStore the operator resolves the account in the store's own namespace (ESO
providers/v1/aws/auth/auth.go credsFromServiceAccount; the webhook rejects another namespace,
runtime/esutils ValidateReferentServiceAccountSelector), so a store in namespace A can only ever
present A's token, which B's role refuses.

Database master credentials never reach a tenant namespace: they are read only in the platform
namespace `database-users`, each tenant's by its own provisioner role (Tenant, DatabaseUsers)."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.platform.network import subnet_plan
from components.shared.iam import document
from components.shared.k8s_helpers import DNS_EGRESS, SYSTEM_NODES, addon_namespace, release, spec_args
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.shared.tags import platform_tags
from components.tenant.tenant_database import MARIADB_PORT

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
# Where each tenant's database users are created with its master credential (never the tenant's).
DATABASE_USERS_NAMESPACE = "database-users"
# The service account a tenant's SecretStore authenticates as, in the tenant's namespace.
TENANT_STORE_ACCOUNT = "tenant-secrets"
TENANT_STORE = "tenant-secrets"
# The platform's own stores (observability's platform-secrets) still read as the operator's role.
CONTROLLER_IDENTITY_NAMESPACES = ("observability",)
STORE_ADMISSION = "secret-stores-read-as-their-namespace"
_AWS = "object.spec.provider.aws"
STORE_RULE = (
    "object.kind != 'SecretStore' || ("
    f"has({_AWS}) && has({_AWS}.auth) && has({_AWS}.auth.jwt) && !has({_AWS}.auth.secretRef)"
    f" && !has({_AWS}.auth.jwt.serviceAccountRef.namespace) && !has({_AWS}.role) && !has({_AWS}.additionalRoles))"
)
STORE_MESSAGE = "a SecretStore here reads AWS as a service account of its own namespace only (auth.jwt, no role)"
_OWN_STORE = "(!has({0}.kind) || {0}.kind == 'SecretStore')"
EXTERNAL_SECRET_RULE = (
    "object.kind != 'ExternalSecret' || ("
    "(!has(object.spec.secretStoreRef) || " + _OWN_STORE.format("object.spec.secretStoreRef") + ")"
    " && (!has(object.spec.data) || object.spec.data.all(d, !has(d.sourceRef) || !has(d.sourceRef.storeRef) || "
    + _OWN_STORE.format("d.sourceRef.storeRef")
    + "))"
    " && (!has(object.spec.dataFrom) || object.spec.dataFrom.all(d, !has(d.sourceRef) || !has(d.sourceRef.storeRef) || "
    + _OWN_STORE.format("d.sourceRef.storeRef")
    + ")))"
)
EXTERNAL_SECRET_MESSAGE = (
    "an ExternalSecret here reads through a SecretStore of its own namespace, never a ClusterSecretStore"
)


@dataclass
class SecretsDeliveryArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]


def platform_secret_prefix(settings: StackSettings) -> str:
    return f"{settings.project}/{settings.stack}/platform/"


def provisioner_account(tenant: Tenant) -> str:
    """The service account (in DATABASE_USERS_NAMESPACE) that reads the tenant's master credential."""
    return f"{tenant.id}-db-users"


def tenant_store_spec(region: str) -> dict[str, object]:
    """A tenant's SecretStore: its namespace's own service account, no role chaining."""
    return {
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": region,
                "auth": {"jwt": {"serviceAccountRef": {"name": TENANT_STORE_ACCOUNT}}},
            }
        }
    }


def operator_policy(settings: StackSettings, account_id: str) -> str:
    region = settings.region
    return document(
        statement(
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [f"arn:aws:secretsmanager:{region}:{account_id}:secret:{platform_secret_prefix(settings)}*"],
        ),
        statement(
            ["kms:Decrypt"],
            [f"arn:aws:kms:{region}:{account_id}:key/*"],
            StringEquals={"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
        ),
    )


class SecretsDelivery(pulumi.ComponentResource):
    role: ServiceAccountRole

    def __init__(self, name: str, args: SecretsDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:SecretsDelivery", name, None, opts)
        s = args.settings
        namespace = addon_namespace(f"{name}-ns", NAMESPACE, self)
        self.role = ServiceAccountRole(
            f"{name}-operator",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                tags=platform_tags(s, "secrets-delivery"),
                policy=pulumi.Output.from_input(args.account_id).apply(lambda account: operator_policy(s, account)),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        operator = release(
            f"{name}-operator",
            "external-secrets",
            namespace,
            {
                "installCRDs": True,
                "serviceAccount": {
                    "create": True,
                    "name": SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": self.role.arn},
                },
                # auth.jwt stores need the operator to request their service accounts' tokens.
                "rbac": {"serviceAccountTokenCreate": True},
                **SYSTEM_NODES,
                "webhook": SYSTEM_NODES,
                "certController": SYSTEM_NODES,
            },
            self,
        )
        self._store_admission(name, operator)
        self.database_users_namespace = addon_namespace(
            f"{name}-database-users-ns", DATABASE_USERS_NAMESPACE, self, enforce="restricted"
        )
        self._database_users_fence(name, s)
        self.register_outputs(
            {
                "operatorRoleArn": self.role.arn,
            }
        )

    def _store_admission(self, name: str, operator: pulumi.Resource) -> None:
        """Refuse, at admission, a store that would read as anything but its own namespace's service
        account (no auth: the operator's own role; `role`/`additionalRoles`: a chain), and an
        ExternalSecret naming a ClusterSecretStore. Only the platform's own stores in
        CONTROLLER_IDENTITY_NAMESPACES read as the operator."""
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-stores",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE_ADMISSION),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=k8s.admissionregistration.v1.MatchResourcesArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_expressions=[
                            k8s.meta.v1.LabelSelectorRequirementArgs(
                                key="kubernetes.io/metadata.name",
                                operator="NotIn",
                                values=list(CONTROLLER_IDENTITY_NAMESPACES),
                            )
                        ]
                    ),
                    resource_rules=[
                        k8s.admissionregistration.v1.NamedRuleWithOperationsArgs(
                            api_groups=["external-secrets.io"],
                            api_versions=["*"],
                            operations=["CREATE", "UPDATE"],
                            resources=["secretstores", "externalsecrets"],
                        )
                    ],
                ),
                validations=[
                    k8s.admissionregistration.v1.ValidationArgs(expression=STORE_RULE, message=STORE_MESSAGE),
                    k8s.admissionregistration.v1.ValidationArgs(
                        expression=EXTERNAL_SECRET_RULE, message=EXTERNAL_SECRET_MESSAGE
                    ),
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator]),
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-stores",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE_ADMISSION),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=STORE_ADMISSION, validation_actions=["Deny"]
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator]),
        )

    def _database_users_fence(self, name: str, s: StackSettings) -> None:
        """database-users serves nothing and talks only to DNS and MariaDB (each tenant database's
        security group admits its own tenant's pods); ESO, not the Job, calls AWS."""
        data_subnets, _ = subnet_plan(s.vpc_cidr)
        policies: dict[str, dict[str, Any]] = {
            "allow-dns-egress": DNS_EGRESS,
            "allow-mariadb-egress": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"ipBlock": {"cidr": cidr}} for cidr in data_subnets],
                        "ports": [{"protocol": "TCP", "port": MARIADB_PORT}],
                    }
                ],
            },
            # The deny comes last, after its allows, so the Job is never cut off mid-deploy.
            "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
        allows: list[pulumi.Resource] = []
        for policy_name, spec in policies.items():
            allows.append(
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-database-users-{policy_name}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=DATABASE_USERS_NAMESPACE),
                    spec=spec_args(spec),
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        depends_on=[self.database_users_namespace, *(allows if policy_name == "default-deny" else [])],
                    ),
                )
            )
