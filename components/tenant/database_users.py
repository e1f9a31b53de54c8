"""A tenant's database users: the services and the schema migrations each log in as their own
MariaDB user with RDS IAM authentication (a 15-minute token signed by their IRSA role), so no
password, and never the master credential, exists in the tenant's namespace.

The users are created from the platform namespace `database-users`: a Job there reads the master
credential through a SecretStore bound to a service account of that namespace, whose role
(SecretsDelivery.provisioner_roles) may read this tenant's master secret only. The statements
follow the RDS User Guide, "Creating a database account using IAM authentication" (MariaDB:
`IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`, `REQUIRE SSL`). RDS throttles new
IAM-authenticated connections (about 200 per second per instance): services pool connections."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.platform.secrets_delivery import DATABASE_USERS_NAMESPACE, provisioner_account
from components.shared.iam import document
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.shared.tags import tenant_labels, tenant_tags
from components.tenant.tenant_permissions import database_schema, database_user
from components.tenant.tenant_services import RUN_AS, SERVICES, pinned_ref

MIGRATIONS = "migrations"
ADMIN_MOUNT = "/var/run/secrets/db-admin"
SQL_MOUNT = "/etc/database-users"


def connect_policy(region: str, account: str, resource_id: str, user: str) -> str:
    """rds-db:connect as exactly one user of exactly one database (the instance's resource id)."""
    return document(
        {"Sid": "OwnDatabaseUser", **statement(["rds-db:connect"], [dbuser_arn(region, account, resource_id, user)])}
    )


def dbuser_arn(region: str, account: str, resource_id: str, user: str) -> str:
    return f"arn:aws:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"


def users_sql(tenant: Tenant) -> str:
    """Idempotent: re-running it on every deployment converges grants, never drops data."""
    schema = database_schema(tenant)
    lines = [f"CREATE DATABASE IF NOT EXISTS `{schema}`;"]
    grants = {service: "SELECT, INSERT, UPDATE, DELETE" for service in SERVICES}
    grants[MIGRATIONS] = "ALL PRIVILEGES"  # schema owner: DDL on its own schema only, no GRANT OPTION
    for workload, privileges in grants.items():
        user = f"'{database_user(tenant, workload)}'@'%'"
        lines += [
            f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';",
            # IAM tokens travel as a cleartext password: TLS only (the parameter group requires it too).
            f"ALTER USER {user} REQUIRE SSL;",
            f"GRANT {privileges} ON `{schema}`.* TO {user};",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class DatabaseUsersArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    database_resource_id: pulumi.Input[str]
    # Home region: create the users with the master credential. None for a promoted DR copy,
    # which already holds them (replicated with the data).
    master_secret_arn: pulumi.Input[str] | None
    provisioner_role: aws.iam.Role | None
    depends_on: Sequence[pulumi.Resource] = ()  # the operator's CRDs, the platform namespace
    # The tenant's pod security groups: its database admits only these (TenantPodSecurityGroups).
    pod_security_group_ids: Sequence[pulumi.Input[str]] = ()


class DatabaseUsers(pulumi.ComponentResource):
    migrations_role: ServiceAccountRole
    job: k8s.batch.v1.Job | None

    def __init__(self, name: str, args: DatabaseUsersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DatabaseUsers", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        self.migrations_role = ServiceAccountRole(
            f"{name}-migrations",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=t.namespace,
                service_account=MIGRATIONS,
                tags=tags,
                role_name=f"{s.regional_prefix}-{t.id}-migrations",
                policy=pulumi.Output.all(args.account_id, args.database_resource_id).apply(
                    lambda v: connect_policy(s.region, v[0], v[1], database_user(t, MIGRATIONS))
                ),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.job = None
        if args.master_secret_arn is not None and args.provisioner_role is not None:
            self.job = self._provision(
                name, s, t, args.master_secret_arn, args.provisioner_role, args.depends_on, args.pod_security_group_ids
            )
        self.register_outputs({"migrationsRoleArn": self.migrations_role.arn})

    def _provision(
        self,
        name: str,
        s: StackSettings,
        t: Tenant,
        master_secret_arn: pulumi.Input[str],
        role: aws.iam.Role,
        after: Sequence[pulumi.Resource],
        pod_security_group_ids: Sequence[pulumi.Input[str]],
    ) -> k8s.batch.v1.Job:
        labels = {**tenant_labels(s, t), "app.kubernetes.io/name": "database-users"}
        account = provisioner_account(t)

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=DATABASE_USERS_NAMESPACE, labels=labels)

        access = aws.iam.RolePolicy(
            f"{name}-master-secret",
            role=role.id,
            policy=pulumi.Output.from_input(master_secret_arn).apply(
                lambda arn: document(
                    {
                        "Sid": "OwnMasterCredential",
                        **statement(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], [arn]),
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=list(after))
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=account,
                namespace=DATABASE_USERS_NAMESPACE,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": role.arn},
            ),
            automount_service_account_token=False,
            opts=child,
        )
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata=meta(account),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": s.region,
                        "auth": {"jwt": {"serviceAccountRef": {"name": account}}},
                    }
                }
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, access]),
        )
        admin_secret = f"{t.id}-db-admin"
        master = k8s.apiextensions.CustomResource(
            f"{name}-master",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=meta(admin_secret),
            spec=pulumi.Output.from_input(master_secret_arn).apply(
                lambda arn: {
                    "refreshInterval": "1h",
                    "secretStoreRef": {"kind": "SecretStore", "name": account},
                    "target": {"name": admin_secret, "creationPolicy": "Owner"},
                    "dataFrom": [{"extract": {"key": arn}}],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[store]),
        )
        if pod_security_group_ids:
            # The Job's pods carry the tenant's groups, which its database admits; nothing else here does.
            k8s.apiextensions.CustomResource(
                f"{name}-pod-security-groups",
                api_version="vpcresources.k8s.aws/v1beta1",
                kind="SecurityGroupPolicy",
                metadata=meta(f"{t.id}-db-users"),
                spec={
                    "podSelector": {"matchLabels": {"tenant": t.id, "app.kubernetes.io/name": "database-users"}},
                    "securityGroups": {"groupIds": list(pod_security_group_ids)},
                },
                opts=child,
            )
        sql = users_sql(t)
        script = k8s.core.v1.ConfigMap(
            f"{name}-sql", metadata=meta(f"{t.id}-db-users"), data={"users.sql": sql}, opts=child
        )
        container = k8s.core.v1.ContainerArgs(
            name="apply-sql",
            # The migrations image (platform ECR, by digest) carries the MariaDB client; it reads
            # the admin credential from ADMIN_MOUNT as the schema migrations did before.
            image=pinned_ref(s.images.migrations, self),
            args=["apply-sql", f"{SQL_MOUNT}/users.sql"],
            env=[k8s.core.v1.EnvVarArgs(name="DATABASE_TLS", value="required")],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "100m", "memory": "128Mi"}, limits={"cpu": "200m", "memory": "256Mi"}
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                privileged=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="db-admin", mount_path=ADMIN_MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="sql", mount_path=SQL_MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
        )
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name=account,
            automount_service_account_token=False,
            enable_service_links=False,
            restart_policy="Never",
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=RUN_AS,
                run_as_group=RUN_AS,
                fs_group=RUN_AS,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector={"node-pool": "system"},
            tolerations=[k8s.core.v1.TolerationArgs(key="CriticalAddonsOnly", operator="Exists", effect="NoSchedule")],
            containers=[container],
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="db-admin", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=admin_secret)
                ),
                k8s.core.v1.VolumeArgs(
                    name="sql", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=f"{t.id}-db-users")
                ),
                k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
            ],
        )
        return k8s.batch.v1.Job(
            f"{name}-job",
            metadata=meta(f"{t.id}-db-users"),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2,
                active_deadline_seconds=600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # The script's digest is part of the template, so a changed script changes it too.
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels,
                        annotations={"platform/users-sql-sha256": hashlib.sha256(sql.encode()).hexdigest()},
                    ),
                    spec=pod,
                ),
            ),
            # A changed script or image replaces the Job (its template is immutable), which reruns it.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=[*after, master, script]),
        )
