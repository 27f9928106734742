"""Follows cross-stack references in synthesized templates back to what they name.

With `@aws-cdk/core:defaultCrossStackReferences: weak`, a value from another stack of the
stage appears as `{"Fn::GetStackOutput": {"StackName", "OutputName", ...}}`, and the producing
stack gets an output of that name. `resolve` returns the producer's expression for it, e.g.
`{"Fn::GetAtt": ["UserPool6BA7E5F2", "Arn"]}`, so tests can say which resource is meant.
"""

from __future__ import annotations

from typing import Any

from tests.synth import Synthesized


def resolve(synthesized: Synthesized, value: Any) -> tuple[str, Any]:
    """(producing stack id, the output's value) for a GetStackOutput reference."""
    reference = value["Fn::GetStackOutput"]
    for stack in synthesized.stage.stacks:
        if stack.stack_name == reference["StackName"]:
            outputs = synthesized.templates[stack.node.id].get("Outputs", {})
            return stack.node.id, outputs[reference["OutputName"]]["Value"]
    raise KeyError(f"no stack {reference['StackName']} in {synthesized.stage.stage_name}")


def logical_id_of(synthesized: Synthesized, value: Any) -> tuple[str, str]:
    """(stack id, logical id) of the resource a Ref/GetAtt reference (possibly cross-stack) names."""
    stack, expression = ("", value) if "Fn::GetStackOutput" not in value else resolve(synthesized, value)
    if "Ref" in expression:
        return stack, expression["Ref"]
    return stack, expression["Fn::GetAtt"][0]
