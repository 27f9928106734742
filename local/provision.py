"""Creates the template's Cognito and DynamoDB resources in moto, the way CloudFormation would.

Each resource's properties go to the matching API call as they are: the property names of
`AWS::Cognito::*` and `AWS::DynamoDB::*` resources are the API's parameter names (the few that
differ are renamed here), and only parameters the API model knows are passed. What moto creates
(pool ids, client ids and secrets, table names) is registered with the resolver, so every other
template value that refers to it resolves to the local one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from local.intrinsics import Resolver, StackValues
from local.lambdas import LambdaRuntime, function_from_template

logger = logging.getLogger(__name__)


def api_parameters(
    client: Any, operation: str, properties: Mapping[str, Any], renames: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The properties the API operation accepts, under the API's names."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    parameters = {}
    for key, value in properties.items():
        key = (renames or {}).get(key, key)
        if key in members:
            parameters[key] = value
    return parameters


def register_functions(resolver: Resolver, stack: StackValues) -> dict[str, tuple[str, str]]:
    """Names and ARNs of the stack's Lambda functions (CloudFormation names them `<stack>-<logical id>...`)."""
    functions = {}
    for logical_id, resource in stack.resources_of_type("AWS::Lambda::Function").items():
        props = resource.get("Properties") or {}
        name = props.get("FunctionName")
        name = resolver.resolve_string(stack.stack_name, name) if name else f"{stack.stack_name}-{logical_id}"[:64]
        arn = resolver.function_arn(name)
        resolver.register(stack.stack_name, logical_id, name, Arn=arn)
        functions[logical_id] = (name, arn)
    return functions


def add_python_functions(runtime: LambdaRuntime, resolver: Resolver, stack: StackValues) -> None:
    """The stack's Python functions, with their environment variables resolved, ready to invoke."""
    for logical_id, resource in stack.resources_of_type("AWS::Lambda::Function").items():
        props = resource.get("Properties") or {}
        if not str(props.get("Runtime", "")).startswith("python") or "Handler" not in props:
            continue
        name = resolver.resource(stack.stack_name, logical_id).ref
        variables = resolver.resolve(stack.stack_name, (props.get("Environment") or {}).get("Variables") or {})
        runtime.register(
            function_from_template(
                logical_id,
                stack.stack_name,
                props,
                name=name,
                arn=resolver.function_arn(name),
                environment={key: str(value) for key, value in variables.items()},
            )
        )


def provision_identity(cognito: Any, resolver: Resolver, stack: StackValues, issuer_base_url: str) -> list[str]:
    """The stack's user pools with their identity providers, resource servers, groups and app clients."""
    name = stack.stack_name
    host = issuer_base_url.split("://", 1)[1]
    pools = []
    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPool").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        params = api_parameters(cognito, "CreateUserPool", props, {"UserPoolName": "PoolName"})
        params.setdefault("PoolName", f"{name}-{logical_id}")
        pool = cognito.create_user_pool(**params)["UserPool"]
        pool_id = pool["Id"]
        resolver.register(
            name,
            logical_id,
            pool_id,
            Arn=pool["Arn"],
            ProviderName=f"{host}/{pool_id}",
            ProviderURL=f"{issuer_base_url}/{pool_id}",
            UserPoolId=pool_id,
        )
        pools.append(pool_id)

    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPoolIdentityProvider").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        try:
            cognito.create_identity_provider(**api_parameters(cognito, "CreateIdentityProvider", props))
        except ClientError as error:
            logger.warning("%s: identity provider %s not created locally: %s", name, logical_id, error)
        resolver.register(name, logical_id, props.get("ProviderName", logical_id))

    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPoolResourceServer").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        cognito.create_resource_server(**api_parameters(cognito, "CreateResourceServer", props))
        resolver.register(name, logical_id, props["Identifier"])

    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPoolGroup").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        props.setdefault("GroupName", f"{name}-{logical_id}")
        cognito.create_group(**api_parameters(cognito, "CreateGroup", props))
        resolver.register(name, logical_id, props["GroupName"])

    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPoolClient").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        props.setdefault("ClientName", logical_id)
        client = cognito.create_user_pool_client(**api_parameters(cognito, "CreateUserPoolClient", props))[
            "UserPoolClient"
        ]
        resolver.register(
            name, logical_id, client["ClientId"], ClientSecret=client.get("ClientSecret", ""), Name=client["ClientName"]
        )

    for logical_id, resource in stack.resources_of_type("AWS::Cognito::UserPoolDomain").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        resolver.register(name, logical_id, props.get("Domain", logical_id), CloudFrontDistribution=host)
    return pools


def _table_parameters(dynamodb: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    params = api_parameters(
        dynamodb,
        "CreateTable",
        {k: v for k, v in props.items() if k not in ("SSESpecification", "StreamSpecification", "Replicas")},
    )
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if "ProvisionedThroughput" not in params and params.get("BillingMode") != "PROVISIONED":
        params["BillingMode"] = "PAY_PER_REQUEST"
    for index in params.get("GlobalSecondaryIndexes") or []:
        index.pop("ContributorInsightsSpecification", None)
        index.pop("WriteProvisionedThroughputSettings", None)
        index.pop("WriteOnDemandThroughputSettings", None)
    return params


def provision_tables(dynamodb: Any, resolver: Resolver, stack: StackValues) -> dict[str, str]:
    """The stack's DynamoDB tables (`AWS::DynamoDB::Table` and `AWS::DynamoDB::GlobalTable`), empty."""
    name = stack.stack_name
    tables = {}
    for resource_type in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
        for logical_id, resource in stack.resources_of_type(resource_type).items():
            props = resolver.resolve(name, resource.get("Properties") or {})
            table_name = str(props.get("TableName") or f"{name}-{logical_id}")
            params = _table_parameters(dynamodb, {**props, "TableName": table_name})
            description = dynamodb.create_table(**params)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            resolver.register(
                name,
                logical_id,
                table_name,
                Arn=description["TableArn"],
                StreamArn=description.get("LatestStreamArn", f"{description['TableArn']}/stream/local"),
            )
            tables[logical_id] = table_name
    return tables
