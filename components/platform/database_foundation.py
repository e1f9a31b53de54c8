"""Regional pieces every tenant database shares: one DB subnet group (per-tenant groups hit the
per-VPC quota), the TLS-enforcing parameter group and the audit-plugin option group."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.iam import service_trust
from components.shared.tags import platform_tags

AUDIT_EVENTS = "CONNECT,QUERY_DDL,QUERY_DCL"


@dataclass
class DatabaseFoundationArgs:
    settings: StackSettings
    private_subnet_ids: list[pulumi.Output[str]]
    account_id: pulumi.Input[str]


class DatabaseFoundation(pulumi.ComponentResource):
    subnet_group: aws.rds.SubnetGroup
    parameter_group: aws.rds.ParameterGroup
    option_group: aws.rds.OptionGroup
    monitoring_role: aws.iam.Role

    def __init__(self, name: str, args: DatabaseFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DatabaseFoundation", name, None, opts)
        s = args.settings
        db = s.database
        tags = platform_tags(s, "database")
        child = pulumi.ResourceOptions(parent=self)
        version_slug = db.major_version.replace(".", "-")

        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-tenants",
            name=f"{s.name_prefix}-tenant-databases",
            description="Private subnets for tenant databases",
            subnet_ids=args.private_subnet_ids,
            tags=tags,
            opts=child,
        )
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-mariadb",
            name=f"{s.name_prefix}-mariadb{version_slug}-tls",
            family=db.parameter_group_family,
            description="Tenant MariaDB: TLS 1.2+ required for every connection",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="require_secure_transport", value="1"),
                # Static parameter: RDS refuses apply_method "immediate" for it (applies at reboot).
                aws.rds.ParameterGroupParameterArgs(
                    name="tls_version", value="TLSv1.2,TLSv1.3", apply_method="pending-reboot"
                ),
            ],
            tags=tags,
            opts=child,
        )
        self.option_group = aws.rds.OptionGroup(
            f"{name}-mariadb-audit",
            name=f"{s.name_prefix}-mariadb{version_slug}-audit",
            option_group_description="Tenant MariaDB: server audit plugin",
            engine_name="mariadb",
            major_engine_version=db.major_version,
            options=[
                aws.rds.OptionGroupOptionArgs(
                    option_name="MARIADB_AUDIT_PLUGIN",
                    option_settings=[
                        aws.rds.OptionGroupOptionOptionSettingArgs(name="SERVER_AUDIT_EVENTS", value=AUDIT_EVENTS),
                    ],
                )
            ],
            tags=tags,
            opts=child,
        )
        # Enhanced Monitoring publishes OS metrics through this role (AWS-managed policy, logs only).
        self.monitoring_role = aws.iam.Role(
            f"{name}-monitoring",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: service_trust("monitoring.rds.amazonaws.com", account)
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring",
            role=self.monitoring_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            opts=child,
        )
        self.register_outputs(
            {
                "subnetGroupName": self.subnet_group.name,
                "parameterGroupName": self.parameter_group.name,
                "optionGroupName": self.option_group.name,
            }
        )
