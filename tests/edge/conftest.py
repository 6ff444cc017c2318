"""Fixtures for the edge tests: CloudFront events shaped as AWS documents them, configs, and moto tables."""

from __future__ import annotations

import copy
import socket
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from rollout.moto_models import install
from rollout.moto_models.assume_role import seed_role
from rollout.naming import EXECUTION_ROLE_NAME
from rollout.rehearse import ADMIN_ACCOUNT, moto_server
from templates.edge_functions import edge_handler

# The helpers next to this file (dynamodb_endpoints) import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dynamodb_endpoints import FakeDynamoDB, LocalPKI, TLSFront, make_pki  # noqa: E402

# Shapes from the CloudFront developer guide, "Lambda@Edge event structure" (example viewer request,
# example origin response); only uri, querystring, clientIp, headers and status vary per test.
_VIEWER_REQUEST_EVENT = {
    "Records": [{"cf": {
        "config": {
            "distributionDomainName": "d111111abcdef8.cloudfront.net",
            "distributionId": "EDFDVBD6EXAMPLE",
            "eventType": "viewer-request",
            "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
        },
        "request": {
            "clientIp": "203.0.113.178",
            "headers": {
                "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
                "user-agent": [{"key": "User-Agent", "value": "curl/7.66.0"}],
                "accept": [{"key": "accept", "value": "*/*"}],
            },
            "method": "GET",
            "querystring": "",
            "uri": "/",
        },
    }}]
}

_ORIGIN_RESPONSE_EVENT = {
    "Records": [{"cf": {
        "config": {
            "distributionDomainName": "d111111abcdef8.cloudfront.net",
            "distributionId": "EDFDVBD6EXAMPLE",
            "eventType": "origin-response",
            "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
        },
        "request": {
            "clientIp": "203.0.113.178",
            "headers": {
                "x-forwarded-for": [{"key": "X-Forwarded-For", "value": "203.0.113.178"}],
                "user-agent": [{"key": "User-Agent", "value": "Amazon CloudFront"}],
                "via": [{"key": "Via", "value": "2.0 8f22423015641505b8c857a37450d6c0.cloudfront.net (CloudFront)"}],
                "host": [{"key": "Host", "value": "example-bucket.s3.us-west-2.amazonaws.com"}],
            },
            "method": "GET",
            "origin": {"s3": {
                "authMethod": "none",
                "customHeaders": {},
                "domainName": "example-bucket.s3.us-west-2.amazonaws.com",
                "path": "",
                "region": "us-west-2",
            }},
            "querystring": "",
            "uri": "/",
        },
        "response": {
            "headers": {
                "access-control-allow-credentials": [{"key": "Access-Control-Allow-Credentials", "value": "true"}],
                "access-control-allow-origin": [{"key": "Access-Control-Allow-Origin", "value": "*"}],
                "date": [{"key": "Date", "value": "Mon, 13 Jan 2020 20:12:38 GMT"}],
                "content-type": [{"key": "Content-Type", "value": "text/html; charset=utf-8"}],
                "server": [{"key": "Server", "value": "AmazonS3"}],
            },
            "status": "200",
            "statusDescription": "OK",
        },
    }}]
}


def viewer_request_event(uri: str = "/", querystring: str = "", client_ip: str = "203.0.113.178",
                         cookies: list[str] | None = None, headers: dict | None = None) -> dict:
    """A viewer-request event; `cookies` become separate Cookie header entries, as CloudFront may send them."""
    event = copy.deepcopy(_VIEWER_REQUEST_EVENT)
    request = event["Records"][0]["cf"]["request"]
    request.update(uri=uri, querystring=querystring, clientIp=client_ip)
    if cookies:
        request["headers"]["cookie"] = [{"key": "Cookie", "value": c} for c in cookies]
    if headers is not None:
        request["headers"] = headers
    return event


def response_event(event_type: str, uri: str = "/", status: str = "200", response_headers: dict | None = None,
                   cookies: list[str] | None = None, client_ip: str = "203.0.113.178") -> dict:
    """An origin-response or viewer-response event (same record shape, different eventType)."""
    event = copy.deepcopy(_ORIGIN_RESPONSE_EVENT)
    cf = event["Records"][0]["cf"]
    cf["config"]["eventType"] = event_type
    cf["request"].update(uri=uri, clientIp=client_ip)
    if event_type == "viewer-response":
        del cf["request"]["origin"]
        cf["request"]["headers"]["user-agent"] = [{"key": "User-Agent", "value": "curl/7.66.0"}]
    if cookies:
        cf["request"]["headers"]["cookie"] = [{"key": "Cookie", "value": c} for c in cookies]
    cf["response"]["status"] = status
    if response_headers is not None:
        cf["response"]["headers"] = response_headers
    return event


def compiled(doc: dict, version: int = 1) -> edge_handler.CompiledConfig:
    """Validate and compile a config document; fail the test on any problem."""
    normalized, problems = edge_handler.validate_config(doc)
    assert problems == []
    content = edge_handler.canonical_json(normalized)
    return edge_handler.compile_config(normalized, version, edge_handler.content_hash(content))


class StaticCache:
    """Stands in for the module's ConfigCache: always returns the given config."""

    def __init__(self, config: edge_handler.CompiledConfig | None):
        self.config = config

    def get(self) -> edge_handler.CompiledConfig | None:
        return self.config


@pytest.fixture
def use_config(monkeypatch: pytest.MonkeyPatch):
    """Make the real entry points see a given config document (None: no config loaded)."""
    def apply(doc: dict | None) -> edge_handler.CompiledConfig | None:
        config = compiled(doc) if doc is not None else None
        monkeypatch.setattr(edge_handler, "_cache", StaticCache(config))
        return config
    return apply


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no instance metadata: nothing can reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' DynamoDB client connects to local test endpoints only, never to AWS."""
    connect = edge_handler._tcp_connection

    def tcp_connection(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectionRefusedError(f"tests never reach AWS: connection to {address[0]} refused")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(edge_handler, "_tcp_connection", tcp_connection)


@pytest.fixture
def aws():
    """moto's in-process AWS for the duration of a test, with the rehearsal's emulated rules (as the server has)."""
    install()
    with mock_aws():
        yield


def account_client(service: str, account: str, region: str, endpoint_url: str | None = None) -> Any:
    """A client acting in `account`, entered through STS as deploy.py enters target accounts."""
    seed_role(account, "test-setup", ADMIN_ACCOUNT)
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint_url)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/test-setup",
                                  RoleSessionName="test-setup")["Credentials"]
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def bootstrap_account(account: str) -> None:
    """What `deploy.py bootstrap` leaves in a target account for edge-config: the execution role, trusting
    the deploying account (moto's default), which the command enters."""
    if account != ADMIN_ACCOUNT:
        seed_role(account, EXECUTION_ROLE_NAME, ADMIN_ACCOUNT)


def create_table(name: str, region: str, account: str | None = None, endpoint_url: str | None = None) -> Any:
    """The edge-config table with the project's fixed key schema (config_id S, version N), in `account` if given."""
    client = (account_client("dynamodb", account, region, endpoint_url) if account
              else boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url))
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "config_id", "KeyType": "HASH"},
                   {"AttributeName": "version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "config_id", "AttributeType": "S"},
                              {"AttributeName": "version", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def current_item(config_id: str, doc: dict, version: int, **overrides: Any) -> dict:
    """A current item (sort key 0) as `edge-config push` writes it; overrides replace attributes."""
    normalized, problems = edge_handler.validate_config(doc)
    assert problems == []
    content = edge_handler.canonical_json(normalized)
    item = {
        "config_id": {"S": config_id},
        "version": {"N": "0"},
        "config_version": {"N": str(version)},
        "schema_version": {"N": str(edge_handler.SCHEMA_VERSION)},
        "content": {"S": content},
        "content_hash": {"S": edge_handler.content_hash(content)},
        "pushed_at": {"S": "2026-01-01T00:00:00+00:00"},
        "pushed_by": {"S": "test"},
        "action": {"S": "push"},
    }
    item.update(overrides)
    return item


@pytest.fixture
def cf() -> SimpleNamespace:
    """The helpers above, for test modules (pytest's importlib mode keeps conftest out of imports)."""
    return SimpleNamespace(viewer_request=viewer_request_event, response=response_event, compiled=compiled,
                           create_table=create_table, current_item=current_item, account_client=account_client,
                           bootstrap_account=bootstrap_account)


# --- HTTPS endpoints for the functions' own DynamoDB client --------------------------------------


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPKI:
    """A test certificate authority and the server certificates it issued."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def moto_https(pki: LocalPKI) -> Iterator[TLSFront]:
    """The moto server behind TLS (certificate for 127.0.0.1 from the test CA); `.endpoint` is host:port.

    moto's state is per process, so tables made under `mock_aws` (the `aws` fixture) are the ones it serves.
    """
    with moto_server() as url:
        host, _, port = url.removeprefix("http://").rpartition(":")
        front = TLSFront((host, int(port)), pki.server_files)
        yield front
        front.close()


@pytest.fixture
def fake_dynamodb(pki: LocalPKI) -> Iterator[FakeDynamoDB]:
    """A keep-alive DynamoDB stand-in over TLS that checks signatures (secret key "testing")."""
    server = FakeDynamoDB(pki.server_files)
    yield server
    server.close()
