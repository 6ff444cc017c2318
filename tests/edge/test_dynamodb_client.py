"""The functions' own DynamoDB client: SigV4 as botocore signs, TLS checked, one connection reused, failures that
fail over and fail open, no secret in any log line."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import string
import time

import certifi
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from dynamodb_endpoints import JSON_TYPE, FakeDynamoDB, error_body
from hypothesis import given, settings
from hypothesis import strategies as st

from templates.edge_functions import edge_handler

TABLE = "edgecdn-edge-config-prod"
KEY = {"config_id": {"S": "prod"}, "version": {"N": "0"}}
V1 = {"redirects": [{"from": "/old", "to": "/v1"}]}
V2 = {"redirects": [{"from": "/old", "to": "/v2"}]}


# --- SigV4: byte for byte what botocore's signer produces --------------------------------------

_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "sa-east-1", "cn-north-1", "us-gov-west-1",
            "il-central-1", "ap-southeast-7"]
_HEADER_NAME = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20).filter(
    lambda name: name.lower() not in {"host", "x-amz-date", "x-amz-security-token", "authorization", "user-agent",
                                      "expect", "connection", "te", "trailer", "upgrade", "transfer-encoding",
                                      "keep-alive", "proxy-authorization", "proxy-authenticate", "x-amzn-trace-id",
                                      "baggage", "traceparent", "tracestate"})
# Header values as HTTP carries them: visible ASCII with runs of spaces and tabs, which SigV4 trims and folds.
_HEADER_VALUE = st.text(string.ascii_letters + string.digits + string.punctuation + " \t", max_size=40)
# Up to 100 characters: "AWS4" + a secret over 60 makes an HMAC key longer than SHA-256's block, which
# HMAC hashes first.
_SECRET = st.text(string.ascii_letters + string.digits + "+/=", min_size=1, max_size=100)


@settings(max_examples=500, deadline=None)
@given(region=st.sampled_from(_REGIONS), service=st.sampled_from(["dynamodb", "sts", "s3"]),
       host=st.sampled_from(["dynamodb.us-east-1.amazonaws.com", "dynamodb.cn-north-1.amazonaws.com.cn",
                             "127.0.0.1:8443", "localhost"]),
       body=st.binary(max_size=300) | st.text(max_size=200).map(lambda text: text.encode("utf-8")),
       when=st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2099, 12, 31)),
       access_key=st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=20),
       secret_key=_SECRET, token=st.none() | _SECRET | st.text(string.ascii_letters + string.digits + "+/=",
                                                               min_size=600, max_size=1200),
       headers=st.lists(st.tuples(_HEADER_NAME, _HEADER_VALUE), max_size=6, unique_by=lambda h: h[0].lower()))
def test_signature_is_byte_for_byte_botocores(region, service, host, body, when, access_key, secret_key, token,
                                              headers):
    headers = dict(headers)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    ours = edge_handler.sign_v4(host, headers, body, region, service, (access_key, secret_key, token or ""), amz_date)

    request = AWSRequest(method="POST", url=f"https://{host}/", headers={"Host": host, **headers}, data=body)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.auth.get_current_datetime", lambda: when.replace(microsecond=0))
        SigV4Auth(Credentials(access_key, secret_key, token), service, region).add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert {name.lower(): value for name, value in ours.items()} == {
        name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize("region, host", [
    ("us-west-2", "dynamodb.us-west-2.amazonaws.com"),
    ("eu-central-1", "dynamodb.eu-central-1.amazonaws.com"),
    ("cn-northwest-1", "dynamodb.cn-northwest-1.amazonaws.com.cn"),
])
def test_each_region_has_its_endpoint(region, host):
    assert edge_handler.dynamodb_host(region) == host
    assert edge_handler.DynamoDBClient(region).host == host


# --- end to end through the handler --------------------------------------------------------------


def _capture_logs(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.fixture
def handler(monkeypatch, pki):
    """Configure the module's cache like a deployed function in us-east-1, its client pointed at `endpoint`."""
    clock = [1000.0]

    def configure(endpoint: str, regions: list[str], **client_options) -> edge_handler.ConfigCache:
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        options = {"tls_context": pki.client_context(), **client_options}
        cache = edge_handler.configure(
            {"table_name": TABLE, "table_regions": regions, "cache_ttl_seconds": 60, "environment": "prod"},
            clock=lambda: clock[0],
            client_factory=lambda region: edge_handler.DynamoDBClient(region, endpoint=endpoint, **options))
        monkeypatch.setattr(edge_handler, "_cache", cache)
        return cache

    configure.clock = clock
    yield configure
    edge_handler.configure(edge_handler.BAKED_SETTINGS)


def _location(cf) -> str:
    result = edge_handler.viewer_request(cf.viewer_request("/old"), None)
    return result["headers"]["location"][0]["value"] if "status" in result else "pass-through"


def test_the_handler_reads_an_item_put_with_boto3_from_the_moto_server(aws, cf, moto_https, handler):
    cf.create_table(TABLE, "us-west-2").put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    cache = handler(moto_https.endpoint, ["us-west-2"])
    assert _location(cf) == "/v1"
    assert cache.current.version == 1
    for trigger, event in (("origin_response", cf.response("origin-response", uri="/a.html")),
                           ("viewer_response", cf.response("viewer-response", uri="/a.html"))):
        assert getattr(edge_handler, trigger)(event, None)["status"] == "200"
    assert cache.reads == 1


def test_moto_answers_a_missing_table_with_an_error_that_fails_open(aws, cf, moto_https, handler, capsys):
    handler(moto_https.endpoint, ["us-west-2"])
    assert _location(cf) == "pass-through"
    [log] = _capture_logs(capsys)
    assert log["event"] == "edge_config_read_failed" and "ResourceNotFoundException (HTTP 400)" in log["error"]


# --- one TLS connection per container and region -------------------------------------------------


def test_reads_in_every_ttl_window_share_one_tls_connection(cf, fake_dynamodb, handler):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    cache = handler(fake_dynamodb.endpoint, ["us-west-2"])
    for window in range(5):
        if window == 3:
            fake_dynamodb.put(TABLE, cf.current_item("prod", V2, 2))
        assert _location(cf) == ("/v1" if window < 3 else "/v2")
        assert _location(cf) == ("/v1" if window < 3 else "/v2")
        handler.clock[0] += 61
    assert cache.reads == 5 and len(fake_dynamodb.requests) == 5
    assert fake_dynamodb.connections == 1 and fake_dynamodb.handshakes == 1


def test_every_trigger_shares_the_container_connection(cf, fake_dynamodb, handler):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    edge_handler.origin_response(cf.response("origin-response", uri="/a.html"), None)
    handler.clock[0] += 61
    edge_handler.viewer_response(cf.response("viewer-response", uri="/a.html"), None)
    handler.clock[0] += 61
    assert _location(cf) == "/v1"
    assert len(fake_dynamodb.requests) == 3 and fake_dynamodb.connections == 1


@pytest.mark.parametrize("how", ["connection-close", "silent-close"])
def test_a_connection_the_server_closed_is_replaced_and_its_tls_session_resumed(cf, fake_dynamodb, handler, how):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    cache = handler(fake_dynamodb.endpoint, ["us-west-2"])

    def answer_then_close(body: bytes) -> tuple[int, dict, bytes]:
        status, headers, payload = fake_dynamodb.answer(body)
        return status, {**headers, "Connection": "close"}, payload

    fake_dynamodb.respond = answer_then_close if how == "connection-close" else "drop"
    assert _location(cf) == "/v1"
    fake_dynamodb.put(TABLE, cf.current_item("prod", V2, 2))
    for _ in range(2):
        handler.clock[0] += 61
        assert _location(cf) == "/v2"
    assert cache.current.version == 2 and cache.reads == 3
    assert fake_dynamodb.connections == 3
    assert fake_dynamodb.resumed == 2  # the new connections resumed the first TLS session: no certificate work


def test_a_chunked_response_is_read(cf, fake_dynamodb, handler):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"])

    def chunked(body):
        status, headers, payload = fake_dynamodb.answer(body)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 100]), payload[i:i + 100])
                          for i in range(0, len(payload), 100))
        return status, {**headers, "Transfer-Encoding": "chunked"}, chunks + b"0\r\n\r\n"

    fake_dynamodb.respond = chunked
    assert _location(cf) == "/v1"
    handler.clock[0] += 61
    assert _location(cf) == "/v1"
    assert fake_dynamodb.connections == 1


# --- failures: logged, the last good configuration kept, the next replica tried -------------------


@pytest.mark.parametrize("status, kind, message", [
    (400, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table "
                                                    "was exceeded."),
    (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    (400, "ResourceNotFoundException", "Requested resource not found"),
    (400, "ExpiredTokenException", "The security token included in the request is expired"),
    (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
    (500, "InternalServerError", "Internal server error"),
    (503, "ServiceUnavailable", ""),
])
def test_an_error_response_keeps_the_last_good_config_and_moves_to_the_next_replica(
        cf, fake_dynamodb, handler, capsys, status, kind, message):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    cache = handler(fake_dynamodb.endpoint, ["us-west-2", "eu-west-1"])
    assert _location(cf) == "/v1" and cache.region == "us-west-2"
    fake_dynamodb.put(TABLE, cf.current_item("prod", V2, 2))
    fake_dynamodb.respond = lambda body: (status, JSON_TYPE, error_body(kind, message))
    capsys.readouterr()
    handler.clock[0] += 61
    assert _location(cf) == "/v1"
    [log] = _capture_logs(capsys)
    assert log["event"] == "edge_config_read_failed" and log["region"] == "us-west-2"
    assert f"{kind} (HTTP {status})" in log["error"] and log["serving_version"] == 1
    assert cache.region == "eu-west-1"
    fake_dynamodb.respond = None
    handler.clock[0] += 61
    assert _location(cf) == "/v2"
    assert fake_dynamodb.connections == 2  # one per replica


def test_a_rejected_signature_is_logged_without_the_credentials(cf, fake_dynamodb, handler, capsys, monkeypatch):
    # AWS's InvalidSignatureException message quotes the canonical request, session token included.
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    fake_dynamodb.secret_key = "the-right-secret"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-1234567890")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLESESSIONTOKEN")
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    assert _location(cf) == "pass-through"
    [request] = fake_dynamodb.requests
    assert request["headers"]["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLESESSIONTOKEN"
    out = capsys.readouterr().out
    assert "InvalidSignatureException (HTTP 400)" in out
    assert "FQoGZXIvYXdzEXAMPLESESSIONTOKEN" not in out and "wrong-secret-1234567890" not in out


@pytest.mark.parametrize("message", [
    "Signature mismatch for secret {secret}", "Token {token} is not valid", "Signature mismatch\nToken was {token}",
])
def test_no_credential_quoted_by_an_error_message_is_logged(cf, fake_dynamodb, handler, capsys, monkeypatch, message):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLESESSIONTOKEN")
    fake_dynamodb.secret_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
    text = message.format(secret="wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", token="FQoGZXIvYXdzEXAMPLESESSIONTOKEN")
    fake_dynamodb.respond = lambda body: (400, JSON_TYPE, error_body("IncompleteSignatureException", text))
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    assert _location(cf) == "pass-through"
    [log] = _capture_logs(capsys)
    assert "IncompleteSignatureException (HTTP 400)" in log["error"]
    assert "FQoGZXIvYXdzEXAMPLESESSIONTOKEN" not in log["error"]
    assert "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY" not in log["error"]


def test_the_session_token_is_sent_and_signed(cf, fake_dynamodb, handler, monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE/token+with=signs")
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    assert _location(cf) == "/v1"  # the stand-in recomputed the signature with botocore, token included
    [request] = fake_dynamodb.requests
    assert request["headers"]["X-Amz-Security-Token"] == "IQoJb3JpZ2luX2VjEXAMPLE/token+with=signs"
    assert "x-amz-security-token" in request["headers"]["Authorization"].split("SignedHeaders=")[1].split(",")[0]


@pytest.mark.parametrize("unset", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_missing_credentials_fail_open_without_a_request(cf, fake_dynamodb, handler, capsys, monkeypatch, unset):
    monkeypatch.delenv(unset)
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    assert _location(cf) == "pass-through"
    assert fake_dynamodb.requests == []
    assert "no credentials" in capsys.readouterr().out


def test_a_line_break_in_a_credential_never_reaches_the_wire(cf, fake_dynamodb, handler, capsys, monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token\r\nX-Injected: yes")
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"])
    assert _location(cf) == "pass-through"
    assert fake_dynamodb.requests == []
    assert "X-Injected" not in capsys.readouterr().out


def test_a_server_that_never_answers_times_out_and_fails_open(cf, fake_dynamodb, handler, capsys):
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    fake_dynamodb.respond = "hang"
    handler(fake_dynamodb.endpoint, ["us-west-2"], read_timeout=0.3)
    started = time.monotonic()
    assert _location(cf) == "pass-through"
    assert time.monotonic() - started < 2
    [log] = _capture_logs(capsys)
    assert log["event"] == "edge_config_read_failed" and "timed out" in log["error"]


def test_a_closed_port_fails_open(cf, handler, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler(f"127.0.0.1:{port}", ["us-west-2"])
    assert _location(cf) == "pass-through"
    assert "edge_config_read_failed" in capsys.readouterr().out


def test_the_default_timeouts_are_one_second_each():
    client = edge_handler.DynamoDBClient("us-west-2")
    assert client.connect_timeout == 1.0 and client.read_timeout == 1.0


# --- certificates --------------------------------------------------------------------------------


@pytest.mark.parametrize("context", ["ssl module", "client_tls_context"])
@pytest.mark.parametrize("certificate", ["self_signed_files", "wrong_host_files"])
def test_a_certificate_that_does_not_verify_is_refused(cf, pki, handler, capsys, certificate, context):
    server = FakeDynamoDB(getattr(pki, certificate))
    tls_context = (pki.client_context() if context == "ssl module"
                   else edge_handler.client_tls_context(ssl.PEM_cert_to_DER_cert(pki.ca_file.read_text())))
    try:
        server.put(TABLE, cf.current_item("prod", V1, 1))
        handler(server.endpoint, ["us-west-2"], tls_context=tls_context)
        assert _location(cf) == "pass-through"
        assert server.requests == []
    finally:
        server.close()
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().out


def test_the_client_context_is_what_python_3_13s_default_context_is(monkeypatch):
    # The functions build their TLS context on _ssl, without importing ssl (see client_tls_context);
    # Python 3.13, their runtime, adds the partial-chain and strict X.509 flags to the default context.
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    ours, default = edge_handler.client_tls_context(), ssl.create_default_context()
    assert ours.verify_mode == default.verify_mode == ssl.CERT_REQUIRED
    assert ours.check_hostname and default.check_hostname
    assert ours._host_flags == default._host_flags
    assert (ours.minimum_version, ours.maximum_version) == (default.minimum_version, default.maximum_version)
    assert ours.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert ours.options == default.options
    assert ours.get_ciphers() == default.get_ciphers()
    assert ours.verify_flags == default.verify_flags | ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    assert ours.cert_store_stats() == default.cert_store_stats() and ours.cert_store_stats()["x509_ca"] > 100


def test_the_trusted_roots_are_the_aws_roots_of_the_system_store(monkeypatch, tmp_path, pki):
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    context = edge_handler.aws_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    found = {(dict(field[0] for field in cert["subject"])["commonName"]) for cert in context.get_ca_certs()}
    assert {"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"} <= found
    assert found <= {"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4",
                     "Starfield Services Root Certificate Authority - G2"}
    # A store without them gives no narrowed context: the client then uses the whole store.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    assert edge_handler.aws_tls_context() is None
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert edge_handler.aws_tls_context() is None


def test_a_certificate_outside_the_aws_roots_is_checked_against_the_whole_store(
        cf, fake_dynamodb, handler, monkeypatch, tmp_path, pki):
    # The system store holds the AWS roots and the test CA: the narrowed context refuses the stand-in's
    # certificate, the whole store accepts it, and later connections go straight to the whole store.
    store = tmp_path / "store.pem"
    store.write_bytes(open(certifi.where(), "rb").read() + b"\n" + pki.ca_file.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(store))
    monkeypatch.setattr(edge_handler, "_tls_contexts", {})
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2", "eu-west-1"], tls_context=None)
    assert _location(cf) == "/v1"
    assert fake_dynamodb.connections == 2 and fake_dynamodb.handshakes == 1  # refused under the AWS roots, then good
    assert edge_handler._tls_contexts["aws"] is edge_handler._tls_contexts["system"]
    another = edge_handler.DynamoDBClient("eu-west-1", endpoint=fake_dynamodb.endpoint)
    assert another.get_item(TABLE, KEY)["Item"]["config_version"] == {"N": "1"}
    assert fake_dynamodb.connections == 3


def test_the_default_client_verifies_against_the_system_store(cf, fake_dynamodb, handler, monkeypatch, capsys):
    # Without a test CA in the store the stand-in's certificate is refused, AWS roots or not.
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    monkeypatch.setattr(edge_handler, "_tls_contexts", {})
    fake_dynamodb.put(TABLE, cf.current_item("prod", V1, 1))
    handler(fake_dynamodb.endpoint, ["us-west-2"], tls_context=None)
    assert _location(cf) == "pass-through"
    assert fake_dynamodb.requests == [] and fake_dynamodb.connections == 2  # AWS roots, then the whole store
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().out
