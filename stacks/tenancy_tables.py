"""The tenancy state: the tenants table (tenants, members, machine clients) and the revocation store.

Both live in the identity stack because the pre-token trigger reads the tenants table (a suspended
tenant gets no tokens; a machine client's tenant) and the identity stack depends on no other stack.
The API stack receives both as constructor arguments.

Stateful: the logical IDs (`TenantsTable...`, `RevocationTable...`) are guarded by
tests/test_logical_ids.py. Never rename or move the `TenantsTable` / `RevocationTable` constructs
or their `Resource` children.

Key layout (the attribute names are in auth_contract, so the Lambda code uses the same ones):

| table      | pk                     | sk                | item                                   |
|------------|------------------------|-------------------|----------------------------------------|
| tenants    | `TENANT#<id>`          | `PROFILE`         | the tenant: display name, status       |
| tenants    | `TENANT#<id>`          | `MEMBER#<sub>`    | a member: user name, email, role       |
| tenants    | `TENANT#<id>`          | `CLIENT#<id>`     | one of the tenant's machine clients    |
| tenants    | `CLIENT#<client id>`   | `TENANT`          | which tenant a machine client is of    |
| tenants    | `USER#<sub>`           | `TENANT`          | which tenant a user is a member of     |
| revocation | `JTI#<origin_jti>`     | —                 | a revoked sign-in session              |
| revocation | `USER#<sub>` / `TENANT#<id>` / `CLIENT#<id>` | — | tokens issued before `not_before` refused |

Every revocation item carries a TTL (`expires_at`) of the longest token lifetime after it was
written: by then every token it refuses has expired anyway
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

import auth_contract
from stacks.config import EnvConfig
from stacks.policies import data_removal_policy


def _table(scope: Construct, id_: str, *, config: EnvConfig, sort_key: bool, ttl: str | None) -> dynamodb.Table:
    """On-demand, point-in-time recovery, AWS managed encryption; RETAIN and deletion protection
    where the environment keeps data."""
    construct = Construct(scope, id_)
    return dynamodb.Table(
        construct,
        "Resource",
        partition_key=dynamodb.Attribute(name=auth_contract.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
        sort_key=(
            dynamodb.Attribute(name=auth_contract.TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING)
            if sort_key
            else None
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=ttl,
        deletion_protection=config.retain_data,
        removal_policy=data_removal_policy(config),
    )


class TenancyTables:
    """`tenants_table` and `revocation_table` (see the module docstring for their keys)."""

    def __init__(self, scope: Construct, *, config: EnvConfig) -> None:
        # Each table is `<Name>/Resource` directly under the stack, so the logical IDs read
        # `TenantsTable...` and `RevocationTable...`, like the items table's.
        self.tenants_table = _table(scope, "TenantsTable", config=config, sort_key=True, ttl=None)
        self.revocation_table = _table(
            scope, "RevocationTable", config=config, sort_key=False, ttl=auth_contract.REVOCATION_TTL_ATTRIBUTE
        )
