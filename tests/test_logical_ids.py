"""Guard for stateful resources: their logical IDs are part of the contract.

A changed logical ID makes CloudFormation create a new resource and delete the old one: every
user of the pool, every item of the table, every log object of the bucket would be lost. This
test fails when a stateful resource appears, disappears or is renamed. Adding one is a reviewed
change to STATEFUL_RESOURCES below; renaming one never is (keep the construct id, or override
the logical ID to the old value).
"""

from __future__ import annotations

import pytest

from tests.synth import ENVIRONMENTS, synthesize

STATEFUL_TYPES = (
    "AWS::Cognito::UserPool",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::S3::Bucket",
    "AWS::RDS::DBInstance",
    "AWS::EFS::FileSystem",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
)

# stack -> {logical id: type}; the same in every environment that has the stack.
STATEFUL_RESOURCES = {
    "Identity": {
        "UserPool6BA7E5F2": "AWS::Cognito::UserPool",
        # stacks/tenancy_tables.py: tenants, members, machine clients; the revocation store.
        "TenantsTableFFF4D8FE": "AWS::DynamoDB::Table",
        "RevocationTable878F264C": "AWS::DynamoDB::Table",
    },
    "Api": {"ItemsTableB7160AE2": "AWS::DynamoDB::Table"},
    "Web": {"LoadBalancerAccessLogsB27DFC85": "AWS::S3::Bucket"},
    # The alarm topic's key (stacks/monitoring_stack.py AlarmTopic): a new key would strand the old.
    "Monitoring": {"AlarmTopicKeyBA1A4AA7": "AWS::KMS::Key"},
    "Waf": {},
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stateful_resources_keep_their_logical_ids(env):
    templates = synthesize(env).templates
    for stack, template in templates.items():
        found = {
            logical_id: resource["Type"]
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] in STATEFUL_TYPES
        }
        assert found == STATEFUL_RESOURCES[stack], (
            f"stateful resources of {env}/{stack} changed: a renamed logical ID replaces the resource "
            "and loses its data"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stateful_resources_are_retained_where_the_environment_keeps_data(env):
    synthesized = synthesize(env)
    expected = "Retain" if synthesized.config.retain_data else "Delete"
    for stack, template in synthesized.templates.items():
        for logical_id in STATEFUL_RESOURCES[stack]:
            assert template["Resources"][logical_id].get("DeletionPolicy", "Delete") == expected, (stack, logical_id)
