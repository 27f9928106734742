"""The local stack resolves the templates' intrinsic functions to local values, across stacks."""

from __future__ import annotations

import pytest

from local.intrinsics import NO_VALUE, Resolver, TemplateError

PRODUCER = {
    "Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
    },
    "Outputs": {
        "PoolId": {"Value": {"Ref": "Pool"}, "Export": {"Name": "shared-pool-id"}},
        "Issuer": {"Value": {"Fn::GetAtt": ["Pool", "ProviderURL"]}},
    },
    "Conditions": {"IsLocal": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
}
CONSUMER = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}}, "Resources": {}}


@pytest.fixture
def resolver() -> Resolver:
    resolver = Resolver(region="eu-west-1", account="123456789012")
    resolver.add_stack("producer", PRODUCER)
    resolver.add_stack("consumer", CONSUMER)
    resolver.register("producer", "Pool", "eu-west-1_abc", ProviderURL="http://127.0.0.1:9/eu-west-1_abc")
    return resolver


def test_ref_and_get_att_give_the_registered_local_values(resolver: Resolver) -> None:
    assert resolver.resolve("producer", {"Ref": "Pool"}) == "eu-west-1_abc"
    assert resolver.resolve("producer", {"Fn::GetAtt": ["Pool", "ProviderURL"]}) == "http://127.0.0.1:9/eu-west-1_abc"
    assert resolver.resolve("producer", {"Fn::GetAtt": "Pool.ProviderURL"}) == "http://127.0.0.1:9/eu-west-1_abc"


def test_pseudo_parameters_and_template_parameters_resolve(resolver: Resolver) -> None:
    value = {"Fn::Join": [":", [{"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}, {"Ref": "Stage"}]]}
    assert resolver.resolve("consumer", value) == "eu-west-1:123456789012:dev"
    assert resolver.resolve("consumer", {"Ref": "AWS::StackName"}) == "consumer"


def test_resources_nothing_emulates_get_stable_placeholders(resolver: Resolver) -> None:
    first = resolver.resolve("producer", {"Fn::GetAtt": ["Role", "Arn"]})
    assert first == resolver.resolve("producer", {"Fn::GetAtt": ["Role", "Arn"]})
    assert first.startswith("arn:aws:iam:eu-west-1:123456789012:")
    assert resolver.resolve("producer", {"Ref": "Role"}) == "producer-Role"


def test_sub_replaces_refs_attributes_and_its_own_variables(resolver: Resolver) -> None:
    value = {"Fn::Sub": ["${Pool}/${Pool.ProviderURL}/${Extra}/${!Literal}/${AWS::Region}", {"Extra": "x"}]}
    assert (
        resolver.resolve("producer", value) == "eu-west-1_abc/http://127.0.0.1:9/eu-west-1_abc/x/${Literal}/eu-west-1"
    )


def test_select_and_split_work_together(resolver: Resolver) -> None:
    value = {"Fn::Select": [1, {"Fn::Split": ["_", {"Ref": "Pool"}]}]}
    assert resolver.resolve("producer", value) == "abc"


def test_import_value_follows_the_producing_stacks_export(resolver: Resolver) -> None:
    assert resolver.resolve("consumer", {"Fn::ImportValue": "shared-pool-id"}) == "eu-west-1_abc"


def test_get_stack_output_reads_the_producing_stacks_output(resolver: Resolver) -> None:
    value = {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "Issuer", "Region": "eu-west-1"}}
    assert resolver.resolve("consumer", value) == "http://127.0.0.1:9/eu-west-1_abc"


def test_if_uses_the_templates_conditions_and_no_value_drops_the_entry(resolver: Resolver) -> None:
    value = {"A": {"Fn::If": ["IsLocal", "yes", "no"]}, "B": {"Ref": "AWS::NoValue"}, "C": [1, {"Ref": "AWS::NoValue"}]}
    assert resolver.resolve("producer", value) == {"A": "yes", "C": [1]}
    assert resolver.resolve("producer", {"Ref": "AWS::NoValue"}) is NO_VALUE


def test_outputs_resolve_like_cdk_deploy_writes_them(resolver: Resolver) -> None:
    assert resolver.outputs("producer") == {"PoolId": "eu-west-1_abc", "Issuer": "http://127.0.0.1:9/eu-west-1_abc"}


def test_unknown_names_and_functions_are_errors_naming_the_place(resolver: Resolver) -> None:
    with pytest.raises(TemplateError, match="Missing"):
        resolver.resolve("producer", {"Ref": "Missing"})
    with pytest.raises(TemplateError, match=r"Pool\.Nope"):
        resolver.resolve("producer", {"Fn::GetAtt": ["Pool", "Nope"]})
    with pytest.raises(TemplateError, match="Fn::Transform"):
        resolver.resolve("producer", {"Fn::Transform": {}})
    with pytest.raises(TemplateError, match="nothing-exports-this"):
        resolver.resolve("consumer", {"Fn::ImportValue": "nothing-exports-this"})
