"""Follows cross-stack references in synthesized templates back to what they name.

Cross-stack references are strong (`@aws-cdk/core:defaultCrossStackReferences: strong` in
cdk.json, docs/operations.md): a value from another stack of the stage appears as
`{"Fn::ImportValue": "<export name>"}`, and the producing stack has an output exporting that
name. `resolve` returns the producer's expression for it, e.g.
`{"Fn::GetAtt": ["UserPool6BA7E5F2", "Arn"]}`, so tests can say which resource is meant.
"""

from __future__ import annotations

from typing import Any

from tests.synth import Synthesized


def exports(synthesized: Synthesized) -> dict[str, tuple[str, Any]]:
    """Export name -> (producing stack id, the exported value) over the stage's stacks."""
    found = {}
    for stack_id, template in synthesized.templates.items():
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                found[output["Export"]["Name"]] = (stack_id, output["Value"])
    return found


def resolve(synthesized: Synthesized, value: Any) -> tuple[str, Any]:
    """(producing stack id, the exported value) for an `Fn::ImportValue` reference."""
    name = value["Fn::ImportValue"]
    found = exports(synthesized)
    if name not in found:
        raise KeyError(f"no stack of {synthesized.stage.stage_name} exports {name}")
    return found[name]


def logical_id_of(synthesized: Synthesized, value: Any) -> tuple[str, str]:
    """(stack id, logical id) of the resource a Ref/GetAtt reference (possibly cross-stack) names."""
    stack, expression = ("", value) if "Fn::ImportValue" not in value else resolve(synthesized, value)
    if "Ref" in expression:
        return stack, expression["Ref"]
    return stack, expression["Fn::GetAtt"][0]
