"""Who may act for a tenant: one IAM role per workload service account (IRSA, trust pinned to the
exact namespace/service account), a secret-reader role only the tenant's own SecretStore (a
service account of its namespace) may assume, an operators role with namespace-scoped cluster
access, and (in the tenant's home region) its own Cognito user pool: its own OAuth2/JWT issuer,
MFA required. Other serving regions know that issuer from the home stack's pool id (a deploy gate,
`StackSettings.jwt_issuer`); None until then.

Roles are created here with trust only; their permissions (TenantPermissions) are attached once the
tenant's keys, data and queues exist, because the key policies name these roles."""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from catalog.model import cognito_issuer
from components.platform.secrets_delivery import TENANT_STORE_ACCOUNT
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, trust_policy
from components.shared.tags import tenant_tags
from components.tenant.tenant_namespace import AGGREGATOR  # its own role: the tenant's cache user only

WORKLOADS = ("carrier", "policy")  # one service account and IAM role each; migrations need no AWS access
NAMESPACE_VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def operators_group(tenant_id: str) -> str:
    return f"tenant:{tenant_id}:operators"


@dataclass
class TenantIdentityArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    cluster_name: pulumi.Input[str]  # an Output of the cluster: access entries wait for it
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    namespace: pulumi.Input[str]
    home: bool  # the tenant's home region owns its user directory


class TenantIdentity(pulumi.ComponentResource):
    workload_roles: dict[str, ServiceAccountRole]
    aggregator_role: ServiceAccountRole
    secrets_role: aws.iam.Role
    operators_role: aws.iam.Role
    user_pool: aws.cognito.UserPool | None
    web_client: aws.cognito.UserPoolClient | None  # home region only
    issuer: pulumi.Output[str] | None  # the tenant's own issuer; None: not known in this region yet

    def __init__(self, name: str, args: TenantIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantIdentity", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"{s.regional_prefix}-{t.id}"

        self.workload_roles = {
            workload: ServiceAccountRole(
                f"{name}-{workload}",
                ServiceAccountRoleArgs(
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_provider_url=args.oidc_provider_url,
                    namespace=t.namespace,
                    service_account=workload,
                    tags=tags,
                    role_name=f"{prefix}-{workload}",
                ),
                child,
            )
            for workload in WORKLOADS
        }
        # Kept apart from the workload roles: no queue, topic, bucket, database or key grants.
        self.aggregator_role = ServiceAccountRole(
            f"{name}-{AGGREGATOR}",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=t.namespace,
                service_account=AGGREGATOR,
                tags=tags,
                role_name=f"{prefix}-{AGGREGATOR}",
            ),
            child,
        )

        # This tenant's SecretStore only: the operator presents the token of the store's service
        # account in the tenant's namespace (auth.jwt), so the trust names that namespace itself.
        self.secrets_role = aws.iam.Role(
            f"{name}-secrets",
            name=f"{s.regional_prefix}-secrets-{t.id}",
            description=f"Reads the app secrets of tenant {t.id} for its SecretStore",
            assume_role_policy=pulumi.Output.all(args.oidc_provider_arn, args.oidc_provider_url).apply(
                lambda v: trust_policy(v[0], v[1], t.namespace, TENANT_STORE_ACCOUNT)
            ),
            max_session_duration=3600,
            tags={**tags, "service-account": f"{t.namespace}/{TENANT_STORE_ACCOUNT}"},
            opts=child,
        )

        # People: the tenant's operators reach only their namespace, and only with MFA.
        self.operators_role = aws.iam.Role(
            f"{name}-operators",
            name=f"{prefix}-operators",
            description=f"Operators of tenant {t.id}: view and restart in namespace {t.namespace}",
            max_session_duration=3600,
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"aws:PrincipalTag/tenant-operator": t.id},
                                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                                },
                            }
                        ],
                    }
                )
            ),
            tags=tags,
            opts=child,
        )
        entry = aws.eks.AccessEntry(
            f"{name}-operators",
            cluster_name=args.cluster_name,
            principal_arn=self.operators_role.arn,
            type="STANDARD",
            kubernetes_groups=[operators_group(t.id)],
            tags=tags,
            opts=child,
        )
        aws.eks.AccessPolicyAssociation(
            f"{name}-operators-view",
            cluster_name=args.cluster_name,
            principal_arn=self.operators_role.arn,
            policy_arn=NAMESPACE_VIEW_POLICY,
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="namespace", namespaces=[t.namespace]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
        )

        self.user_pool = None
        self.web_client = None
        self.issuer = None
        if args.home:
            self._user_directory(name, s, t, tags)
        elif (issuer := s.jwt_issuer(t)) is not None:
            self.issuer = pulumi.Output.from_input(issuer)

        self.register_outputs(
            {
                "workloadRoles": {w: r.arn for w, r in self.workload_roles.items()},
                "aggregatorRole": self.aggregator_role.arn,
                "operatorsRoleArn": self.operators_role.arn,
                "issuer": self.issuer,
            }
        )

    def _user_directory(self, name: str, s: StackSettings, t: Tenant, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            name=f"{s.name_prefix}-{t.id}",
            deletion_protection="ACTIVE",
            mfa_configuration="ON",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
                password_history_size=12,
            ),
            user_pool_tier="PLUS",  # threat protection (advanced security) needs the Plus tier
            user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode="ENFORCED"),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.web_client = aws.cognito.UserPoolClient(
            f"{name}-web",
            name=f"{t.id}-web",
            user_pool_id=self.user_pool.id,
            generate_secret=True,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email", "profile"],
            supported_identity_providers=["COGNITO"],
            callback_urls=[f"https://{t.domain}/oauth2/callback"],
            logout_urls=[f"https://{t.domain}/"],
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=12,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="hours"
            ),
            opts=child,
        )
        self.issuer = self.user_pool.id.apply(lambda pool: cognito_issuer(s.region, pool))
