"""What one account of an environment runs: an instance per region, and the KMS keys each creates."""

from __future__ import annotations

from dataclasses import dataclass

from templates.build import nested_template_name
from templates.config import EnvConfig
from templates.lint_rules._edge import created_in_region

NESTED_STACK = "AWS::CloudFormation::Stack"
KMS_KEY = "AWS::KMS::Key"

# AWS KMS pricing: a customer managed key costs $1 a month; with automatic rotation (every key here
# rotates yearly) the first and the second rotation add $1 each, later ones nothing.
KMS_KEY_MONTHLY_USD = 1
KMS_KEY_MONTHLY_USD_ROTATED = 3


@dataclass(frozen=True)
class Footprint:
    """Per account: the instance regions and, by region, the KMS keys (component/logical id)."""

    keys_by_region: dict[str, list[str]]

    @property
    def instances(self) -> int:
        return len(self.keys_by_region)

    @property
    def keys(self) -> int:
        return sum(len(keys) for keys in self.keys_by_region.values())

    def summary(self) -> str:
        """`13 instances and 17 KMS keys per account ($17-51 a month in keys)`."""
        return (f"{self.instances} instances and {self.keys} KMS keys per account "
                f"(${self.keys * KMS_KEY_MONTHLY_USD}-{self.keys * KMS_KEY_MONTHLY_USD_ROTATED} a month in keys)")


def footprint(env: EnvConfig, templates: dict[str, dict]) -> Footprint:
    """The KMS keys each instance region of one account creates, from the root and its nested stacks.

    A key counts in a region when the root creates its stack there and the key's own condition
    holds there; a condition that depends on the account counts as holding (the most keys).
    """
    root = templates["root"]
    keys: dict[str, list[str]] = {}
    for region in env.regions:
        here = keys.setdefault(region, [])
        for resource in root.get("Resources", {}).values():
            if resource.get("Type") != NESTED_STACK or created_in_region(root, resource, region) is False:
                continue
            child_name = nested_template_name(resource["Properties"]["TemplateURL"])
            child = templates[child_name]
            here += [f"{child_name}/{logical_id}" for logical_id, r in sorted(child.get("Resources", {}).items())
                     if r.get("Type") == KMS_KEY and created_in_region(child, r, region) is not False]
    return Footprint(keys)
