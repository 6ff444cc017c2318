"""The values a template gives, for one account and region, without deploying it.

Enough of CloudFormation's intrinsic functions to tell which resources a stack creates in an account
and region (Conditions) and what their names are (Fn::Sub of pseudo parameters, Fn::FindInMap keyed
by account, Fn::If, ...). Anything that needs a deployed resource (Fn::GetAtt, a Ref to a resource,
Fn::ImportValue) raises Unresolvable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SUB_REFERENCE = re.compile(r"\$\{([^}!]+)\}")


class Unresolvable(Exception):
    """The value depends on something only a deployment knows."""


@dataclass
class Scope:
    """One template evaluated for one account and region."""

    template: dict[str, Any]
    account: str
    region: str
    parameters: dict[str, Any] = field(default_factory=dict)
    _conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {name: spec.get("Default") for name, spec in (self.template.get("Parameters") or {}).items()}
        values.update({k: v for k, v in self.parameters.items() if v is not None})
        self.parameters = values

    def pseudo(self, name: str) -> Any:
        values = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
        if name in values:
            return values[name]
        raise Unresolvable(name)

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters and self.parameters[name] is not None:
            return self.parameters[name]
        raise Unresolvable(f"Ref {name}")

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def creates(self, resource: dict[str, Any]) -> bool:
        """Whether the resource exists in this account and region (its Condition holds)."""
        return "Condition" not in resource or self.condition(resource["Condition"])

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: self.value(item) for key, item in node.items()}
        (function, argument), = node.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(self.value(i)) for i in self.value(items))
        if function == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if function == "Fn::FindInMap":
            name, top, second = (self.value(a) for a in argument[:3])
            try:
                return self.template["Mappings"][name][top][second]
            except KeyError:
                raise Unresolvable(f"Fn::FindInMap {name}/{top}/{second}") from None
        if function == "Fn::If":
            name, if_true, if_false = argument
            return self.value(if_true if self.condition(name) else if_false)
        if function == "Fn::Equals":
            left, right = (self.value(a) for a in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.value(argument[0])
        if function == "Fn::And":
            return all(self.value(a) for a in argument)
        if function == "Fn::Or":
            return any(self.value(a) for a in argument)
        if function == "Fn::Contains":
            values, item = self.value(argument[0]), self.value(argument[1])
            return str(item) in [str(v) for v in values]
        if function.startswith("Fn::") or function == "Fn::GetAtt":
            raise Unresolvable(function)
        return {function: self.value(argument)}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name:
                raise Unresolvable(f"${{{name}}}")
            return str(self.ref(name))

        return _SUB_REFERENCE.sub(replace, text)


def without_no_value(items: Any) -> list[Any]:
    """A list value with AWS::NoValue (None) entries removed, as CloudFormation does."""
    return [item for item in items or [] if item is not None]
