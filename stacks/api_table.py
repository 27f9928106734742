"""The items table: one partition per tenant, sort key = item (or event) id.

Stateful: its logical ID (`ItemsTableB7160AE2`) is guarded by tests/test_logical_ids.py. Never
rename or move the `ItemsTable` construct or its `Resource` child.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.config import EnvConfig
from stacks.policies import data_removal_policy

# Attribute names the Lambda code uses (lambdas/shared/items_table.py): keep them in step.
PARTITION_KEY = "tenant"
SORT_KEY = "id"


class ItemsTable(Construct):
    """On-demand, point-in-time recovery, encrypted with the AWS managed key (aws/dynamodb);
    RETAIN and deletion protection where the environment keeps data."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvConfig) -> None:
        super().__init__(scope, id_)
        self.table = dynamodb.Table(
            self,
            "Resource",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.retain_data,
            removal_policy=data_removal_policy(config),
        )
