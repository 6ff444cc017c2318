"""What a rollout starts from: the environment config and its generated templates, checked up front."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from rollout.errors import InputError
from rollout.naming import (
    PARAM_DISTRIBUTION_ARN,
    PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX,
    PARAM_TEMPLATES_BUCKET,
    PARAM_TEMPLATES_PREFIX,
    ROOT_TEMPLATE,
)
from templates.config import EDGE_REGION, PROJECT_ROOT, ConfigError, EnvConfig, load_environment

OUTPUT_ROOT = PROJECT_ROOT / "output"

# CloudFormation reads a TemplateURL of at most 1 MB.
MAX_TEMPLATE_BYTES = 1_000_000

Renderer = Callable[[EnvConfig], dict[str, bytes]]


def load_env(name: str) -> EnvConfig:
    """The validated environment, or InputError with the file and field at fault."""
    try:
        return load_environment(name)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc


@dataclass(frozen=True)
class TemplateSet:
    """The generated files of one environment, as published: names and exact bytes."""

    env: EnvConfig
    directory: Path
    files: dict[str, bytes]

    @cached_property
    def digests(self) -> dict[str, str]:
        return {name: hashlib.sha256(body).hexdigest() for name, body in sorted(self.files.items())}

    @cached_property
    def digest(self) -> str:
        """sha256 of the manifest (every file name with its sha256): changes when any file does."""
        manifest = "".join(f"{digest}  {name}\n" for name, digest in self.digests.items())
        return hashlib.sha256(manifest.encode()).hexdigest()

    @property
    def prefix(self) -> str:
        """Content-addressed key prefix of this set: `<env>/<first 16 hex of the set digest>/`."""
        return f"{self.env.environment}/{self.digest[:16]}/"

    def template(self, name: str) -> dict[str, Any]:
        return json.loads(self.files[name])

    @cached_property
    def root(self) -> dict[str, Any]:
        return self.template(ROOT_TEMPLATE)

    @property
    def root_body(self) -> str:
        return self.files[ROOT_TEMPLATE].decode("utf-8")

    @property
    def root_parameters(self) -> dict[str, Any]:
        return self.root.get("Parameters", {})

    @property
    def has_distribution_parameter(self) -> bool:
        return PARAM_DISTRIBUTION_ARN in self.root_parameters

    @cached_property
    def capabilities(self) -> list[str]:
        """CAPABILITY_NAMED_IAM when a template names IAM resources; AUTO_EXPAND for transforms."""
        types = set()
        transforms = False
        for name in self.files:
            template = self.template(name)
            transforms = transforms or "Transform" in template
            types.update(r.get("Type", "") for r in template.get("Resources", {}).values())
        capabilities = []
        if any(t.startswith("AWS::IAM::") for t in types):
            capabilities.append("CAPABILITY_NAMED_IAM")
        if transforms:
            capabilities.append("CAPABILITY_AUTO_EXPAND")
        return capabilities

    @property
    def description(self) -> str:
        return str(self.root.get("Description", ""))[:1024]


def output_directory(env: EnvConfig, output_root: Path | None = None) -> Path:
    return (output_root or OUTPUT_ROOT) / env.environment


def _default_renderer() -> Renderer:
    try:
        from templates.build import render_environment
    except ImportError as exc:
        raise InputError(
            "cannot check that the generated templates are current: "
            f"templates.build.render_environment is not available ({exc})") from exc
    return render_environment


def stale_files(env: EnvConfig, files: dict[str, bytes], renderer: Renderer) -> list[str]:
    """Files of output/<env>/ that differ from what generate.py would write now (or miss, or extra)."""
    expected = renderer(env)
    problems = []
    for name in sorted(set(expected) | set(files)):
        if name not in files:
            problems.append(f"{name} (missing)")
        elif name not in expected:
            problems.append(f"{name} (not generated any more)")
        elif files[name] != expected[name]:
            problems.append(f"{name} (differs)")
    return problems


def load_templates(
    env: EnvConfig,
    output_root: Path | None = None,
    renderer: Renderer | None = None,
    check_fresh: bool = True,
) -> TemplateSet:
    """Read output/<env>/, check it is complete, well-formed, current, and fits the rollout contract."""
    directory = output_directory(env, output_root)
    regenerate = f"run `python generate.py --env {env.environment}`"
    if not directory.is_dir():
        raise InputError(f"{directory} does not exist: {regenerate} first")
    try:
        files = {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}
    except OSError as exc:
        raise InputError(f"{directory}: cannot read the templates ({exc}): {regenerate}") from exc
    if ROOT_TEMPLATE not in files:
        raise InputError(f"{directory / ROOT_TEMPLATE} does not exist: {regenerate}")
    for name, body in files.items():
        if len(body) > MAX_TEMPLATE_BYTES:
            raise InputError(f"{directory / name} is {len(body)} bytes; CloudFormation reads "
                             f"templates of at most {MAX_TEMPLATE_BYTES} bytes from S3")
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise InputError(f"{directory / name} is not valid JSON ({exc}): {regenerate}") from exc
        if not isinstance(parsed, dict) or "Resources" not in parsed:
            raise InputError(f"{directory / name} is not a CloudFormation template (no Resources)")
    if check_fresh:
        stale = stale_files(env, files, renderer or _default_renderer())
        if stale:
            raise InputError(f"{directory} is stale, `python generate.py --check` would reject it: "
                             f"{', '.join(stale)}; {regenerate} and commit the result")
    templates = TemplateSet(env=env, directory=directory, files=files)
    params = templates.root_parameters
    missing = [p for p in (PARAM_TEMPLATES_BUCKET, PARAM_TEMPLATES_PREFIX) if p not in params]
    if not env.single_region and PARAM_DISTRIBUTION_ARN not in params:
        missing.append(PARAM_DISTRIBUTION_ARN)
    if set(env.regions) - {EDGE_REGION, env.primary_region} and PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX not in params:
        # One operation gives every region the same values: each region's stack finds its own
        # templates bucket through this prefix.
        missing.append(PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX)
    if missing:
        raise InputError(f"{directory / ROOT_TEMPLATE} lacks the parameter(s) {', '.join(missing)} "
                         "that the rollout sets per region")
    return templates
