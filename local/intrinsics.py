"""Resolves CloudFormation intrinsic functions in synthesized templates to local values.

Every resource the local stack emulates registers what `Ref` and `Fn::GetAtt` return for it
(a pool id, a client id, a function ARN, a table name, a local URL); everything else gets a
stable placeholder in the shape CloudFormation would give it. Cross-stack values follow the
templates' own wiring: `Fn::ImportValue` through the producing stack's exports and
`Fn::GetStackOutput` through its outputs, so the local stack never repeats a value the CDK code
already decides.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


class TemplateError(ValueError):
    """A template uses something the local stack cannot resolve. The message names the place."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass
class LocalResource:
    """What `Ref` and `Fn::GetAtt` give for one logical resource."""

    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    placeholder: bool = False  # nothing emulates it: any attribute gets a stable stand-in


@dataclass
class StackValues:
    """One stack's template and the local values of its resources."""

    stack_name: str
    template: Mapping[str, Any]
    resources: dict[str, LocalResource] = field(default_factory=dict)

    def resources_of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in (self.template.get("Resources") or {}).items()
            if resource.get("Type") == resource_type
        }


class Resolver:
    """Resolves intrinsics across the stacks of one environment."""

    def __init__(self, *, region: str, account: str, partition: str = "aws", url_suffix: str = "amazonaws.com") -> None:
        self.region = region
        self.account = account
        self.partition = partition
        self.url_suffix = url_suffix
        self.stacks: dict[str, StackValues] = {}

    # ------------------------------------------------------------------ registry

    def add_stack(self, stack_name: str, template: Mapping[str, Any]) -> StackValues:
        values = StackValues(stack_name=stack_name, template=template)
        self.stacks[stack_name] = values
        return values

    def register(self, stack_name: str, logical_id: str, ref: Any, **attributes: Any) -> LocalResource:
        resource = LocalResource(ref=ref, attributes=dict(attributes))
        self.stacks[stack_name].resources[logical_id] = resource
        return resource

    def resource(self, stack_name: str, logical_id: str) -> LocalResource:
        stack = self.stacks[stack_name]
        if logical_id not in stack.resources:
            definition = (stack.template.get("Resources") or {}).get(logical_id)
            if definition is None:
                raise TemplateError(f"{stack_name}: no resource {logical_id!r}")
            stack.resources[logical_id] = self._placeholder(stack_name, logical_id, definition)
        return stack.resources[logical_id]

    def _placeholder(self, stack_name: str, logical_id: str, definition: Mapping[str, Any]) -> LocalResource:
        """A stable stand-in for a resource nothing emulates (roles, log groups, permissions...)."""
        resource_type = str(definition.get("Type", "Custom::Unknown"))
        name = f"{stack_name}-{logical_id}"
        parts = resource_type.split("::")
        service = parts[1].lower() if len(parts) > 2 else "custom"
        arn = f"arn:{self.partition}:{service}:{self.region}:{self.account}:{parts[-1].lower()}/{name}"
        return LocalResource(ref=name, attributes={"Arn": arn}, placeholder=True)

    def function_arn(self, name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    # ------------------------------------------------------------------ resolution

    def resolve(self, stack_name: str, value: Any) -> Any:
        """`value` with every intrinsic function resolved; `AWS::NoValue` entries dropped."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref":
                    return self._ref(stack_name, argument)
                if key == "Condition":
                    return self._condition(stack_name, argument)
                if key.startswith("Fn::"):
                    return self._function(stack_name, key, argument)
            resolved = {key: self.resolve(stack_name, item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(stack_name, item) for item in value) if item is not NO_VALUE]
        return value

    def resolve_string(self, stack_name: str, value: Any) -> str:
        resolved = self.resolve(stack_name, value)
        if not isinstance(resolved, (str, int, float)) or isinstance(resolved, bool):
            raise TemplateError(f"{stack_name}: expected a string, got {resolved!r}")
        return str(resolved)

    def _ref(self, stack_name: str, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{stack_name}/local",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        template = self.stacks[stack_name].template
        parameters = template.get("Parameters") or {}
        if name in parameters:
            return parameters[name].get("Default", "")
        return self.resource(stack_name, name).ref

    def _get_att(self, stack_name: str, logical_id: str, attribute: str) -> Any:
        resource = self.resource(stack_name, logical_id)
        if attribute not in resource.attributes and resource.placeholder:
            return f"{resource.ref}-{attribute}".lower()
        if attribute not in resource.attributes:
            raise TemplateError(f"{stack_name}: Fn::GetAtt {logical_id}.{attribute} has no local value")
        return resource.attributes[attribute]

    def _function(self, stack_name: str, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            if isinstance(argument, str):
                logical_id, _, attribute = argument.partition(".")
            else:
                logical_id, attribute = argument[0], self.resolve_string(stack_name, argument[1])
            return self._get_att(stack_name, logical_id, attribute)
        if name == "Fn::Join":
            delimiter, items = argument
            items = self.resolve(stack_name, items)
            return delimiter.join(str(item) for item in items)
        if name == "Fn::Sub":
            return self._sub(stack_name, argument)
        if name == "Fn::Select":
            index, items = argument
            items = self.resolve(stack_name, items)
            return items[int(self.resolve(stack_name, index))]
        if name == "Fn::Split":
            delimiter, source = argument
            return self.resolve_string(stack_name, source).split(delimiter)
        if name == "Fn::ImportValue":
            return self._import(self.resolve_string(stack_name, argument))
        if name == "Fn::GetStackOutput":
            arguments = self.resolve(stack_name, argument)
            return self.output(arguments["StackName"], arguments["OutputName"])
        if name == "Fn::Base64":
            return base64.b64encode(self.resolve_string(stack_name, argument).encode()).decode()
        if name == "Fn::GetAZs":
            return [f"{self.region}{suffix}" for suffix in "abc"]
        if name == "Fn::FindInMap":
            map_name, top, second = (self.resolve(stack_name, item) for item in argument[:3])
            return self.stacks[stack_name].template["Mappings"][map_name][top][second]
        if name == "Fn::If":
            condition, when_true, when_false = argument
            chosen = when_true if self._condition(stack_name, condition) else when_false
            return self.resolve(stack_name, chosen)
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._evaluate(stack_name, {name: argument})
        raise TemplateError(f"{stack_name}: intrinsic function {name} is not supported locally")

    def _sub(self, stack_name: str, argument: Any) -> str:
        if isinstance(argument, str):
            body, variables = argument, {}
        else:
            body, variables = argument[0], self.resolve(stack_name, argument[1])
        out, index = [], 0
        while index < len(body):
            start = body.find("${", index)
            if start < 0:
                out.append(body[index:])
                break
            out.append(body[index:start])
            end = body.index("}", start)
            expression = body[start + 2 : end]
            if expression.startswith("!"):
                out.append("${" + expression[1:] + "}")
            elif expression in variables:
                out.append(str(variables[expression]))
            elif "." in expression and not expression.startswith("AWS::"):
                logical_id, _, attribute = expression.partition(".")
                out.append(str(self._get_att(stack_name, logical_id, attribute)))
            else:
                out.append(str(self._ref(stack_name, expression)))
            index = end + 1
        return "".join(out)

    def _condition(self, stack_name: str, name: str) -> bool:
        conditions = self.stacks[stack_name].template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"{stack_name}: no condition {name!r}")
        return bool(self._evaluate(stack_name, conditions[name]))

    def _evaluate(self, stack_name: str, expression: Any) -> Any:
        if isinstance(expression, Mapping) and len(expression) == 1:
            (key, argument), *_ = expression.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(stack_name, item) for item in argument)
                return left == right
            if key == "Fn::Not":
                return not self._evaluate(stack_name, argument[0])
            if key == "Fn::And":
                return all(self._evaluate(stack_name, item) for item in argument)
            if key == "Fn::Or":
                return any(self._evaluate(stack_name, item) for item in argument)
            if key == "Condition":
                return self._condition(stack_name, argument)
        return self.resolve(stack_name, expression)

    # ------------------------------------------------------------------ outputs and exports

    def outputs(self, stack_name: str) -> dict[str, Any]:
        """Every output of a stack that resolves locally (as `cdk deploy --outputs-file` writes them)."""
        resolved = {}
        for name in self.stacks[stack_name].template.get("Outputs") or {}:
            try:
                resolved[name] = self.output(stack_name, name)
            except TemplateError as error:
                logger.warning("output %s left out: %s", name, error)
        return resolved

    def output(self, stack_name: str, output_name: str) -> Any:
        if stack_name not in self.stacks:
            raise TemplateError(f"no stack {stack_name!r} for output {output_name!r}")
        outputs = self.stacks[stack_name].template.get("Outputs") or {}
        if output_name not in outputs:
            raise TemplateError(f"{stack_name}: no output {output_name!r}")
        return self.resolve(stack_name, outputs[output_name]["Value"])

    def _import(self, export_name: str) -> Any:
        for stack_name, stack in self.stacks.items():
            for output in (stack.template.get("Outputs") or {}).values():
                export = output.get("Export")
                if export and self.resolve_string(stack_name, export["Name"]) == export_name:
                    return self.resolve(stack_name, output["Value"])
        raise TemplateError(f"no stack exports {export_name!r}")
