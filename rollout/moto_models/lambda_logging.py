"""Lambda's LoggingConfig for moto 5.2.5: kept, validated and returned, through the API and CloudFormation.

moto ignored LoggingConfig: CreateFunction, UpdateFunctionConfiguration and CloudFormation's
AWS::Lambda::Function dropped it, and GetFunctionConfiguration never returned one. Lambda stores it
and returns it with every configuration, by default `{"LogFormat": "Text", "LogGroup":
"/aws/lambda/<function>"}`; it refuses (InvalidParameterValueException) a LogGroup outside 1-512
characters of `[.-_/#A-Za-z0-9]`, a LogFormat other than Text or JSON, and log levels with the
Text format (Lambda developer guide, "Configuring advanced logging controls"; API LoggingConfig).
A CloudFormation update that drops the property sets the default again.
"""

from __future__ import annotations

import re
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import InvalidParameterValueException

_installed = False
_LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_LEVELS = ("ApplicationLogLevel", "SystemLogLevel")


def logging_config(value: Any, function_name: str) -> dict[str, str]:
    """The LoggingConfig Lambda stores for `value` (None: the default), or InvalidParameterValueException."""
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}"}
    if value is None:
        return config
    if not isinstance(value, dict):
        raise InvalidParameterValueException("LoggingConfig must be a structure")
    config.update({k: str(v) for k, v in value.items() if v is not None})
    if not _LOG_GROUP.match(config["LogGroup"]):
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{config['LogGroup']}' at 'loggingConfig.logGroup' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
    if config["LogFormat"] not in ("Text", "JSON"):
        raise InvalidParameterValueException(f"LogFormat {config['LogFormat']} is not one of Text, JSON")
    if config["LogFormat"] == "Text" and any(level in config for level in _LEVELS):
        raise InvalidParameterValueException("Log levels can only be set with the JSON log format")
    return config


def install() -> None:
    """Patch moto's LambdaFunction (idempotent)."""
    global _installed
    if _installed:
        return
    function = lambda_models.LambdaFunction
    original_init = function.__init__
    original_get = function.get_configuration
    original_update = function.update_configuration
    original_cfn_create = function.create_from_cloudformation_json.__func__
    original_cfn_update = function.update_from_cloudformation_json.__func__

    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
        original_init(self, account_id, spec, region, version)
        self.logging_config = logging_config(spec.get("LoggingConfig"), self.function_name)

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_get(self, on_create)
        config["LoggingConfig"] = dict(getattr(self, "logging_config", None) or logging_config(None, self.function_name))
        return config

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.logging_config = logging_config(config_updates["LoggingConfig"], self.function_name)
        return original_update(self, config_updates)

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        wanted = logging_config(properties.get("LoggingConfig"), resource_name)  # refused before anything exists
        fn = original_cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fn.logging_config = wanted
        return fn

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
        properties = cloudformation_json["Properties"]
        wanted = logging_config(properties.get("LoggingConfig"), original_resource.function_name)
        fn = original_cfn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                 region_name)
        fn.logging_config = wanted
        return fn

    function.__init__ = __init__
    function.get_configuration = get_configuration
    function.update_configuration = update_configuration
    function.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    function.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    _installed = True
