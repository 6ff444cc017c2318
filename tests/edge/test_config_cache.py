"""Loading the configuration from moto's DynamoDB: first load, TTL, failures, invalid and missing items, replicas.

The functions' own client reads through the moto server over TLS; tables and items are put with boto3.
"""

from __future__ import annotations

import pytest

from templates.edge_functions import edge_handler

TABLE = "edgecdn-edge-config-prod"
V1 = {"redirects": [{"from": "/old", "to": "/v1"}]}
V2 = {"redirects": [{"from": "/old", "to": "/v2"}]}
SETTINGS = {"table_name": TABLE, "table_regions": ["us-west-2"], "cache_ttl_seconds": 60, "environment": "prod"}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingClient:
    """Wraps the functions' DynamoDB client (pointed at the moto server), counts GetItem calls, can be told to fail."""

    def __init__(self, client: edge_handler.DynamoDBClient, log: list[str]):
        self.client = client
        self.region = client.region
        self.log = log
        self.fail = False

    def get_item(self, table_name: str, key: dict) -> dict:
        self.log.append(self.region)
        if self.fail:
            raise edge_handler.DynamoDBError("endpoint unreachable")
        return self.client.get_item(table_name, key)


@pytest.fixture
def table(aws, cf):
    return cf.create_table(TABLE, "us-west-2")


@pytest.fixture
def edge(monkeypatch, moto_https, pki):
    """The module's cache configured like a deployed function, with a hand-moved clock and a read log."""
    clock = Clock()
    reads: list[str] = []
    clients: dict[str, CountingClient] = {}

    def factory(region: str) -> CountingClient:
        client = edge_handler.DynamoDBClient(region, endpoint=moto_https.endpoint, tls_context=pki.client_context())
        clients[region] = CountingClient(client, reads)
        return clients[region]

    def configure(settings: dict = SETTINGS, here: str = "us-east-1") -> edge_handler.ConfigCache:
        monkeypatch.setenv("AWS_REGION", here)
        cache = edge_handler.configure(settings, clock=clock, client_factory=factory)
        monkeypatch.setattr(edge_handler, "_cache", cache)
        return cache

    class Edge:
        pass

    edge = Edge()
    edge.clock, edge.reads, edge.clients, edge.configure = clock, reads, clients, configure
    yield edge
    edge_handler.configure(edge_handler.BAKED_SETTINGS)


def request_to(cf, uri: str = "/old") -> dict:
    return edge_handler.viewer_request(cf.viewer_request(uri), None)


def where(result: dict) -> str:
    return result["headers"]["location"][0]["value"] if "status" in result else "pass-through"


def test_first_request_loads_the_config_with_one_get_item(table, cf, edge):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    cache = edge.configure()
    assert where(request_to(cf)) == "/v1"
    assert cache.current.version == 1
    assert edge.reads == ["us-west-2"]


def test_new_version_is_picked_up_only_after_the_ttl(table, cf, edge):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    edge.configure()
    assert where(request_to(cf)) == "/v1"
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V2, 2))
    edge.clock.now += 59.9
    assert where(request_to(cf)) == "/v1"
    assert len(edge.reads) == 1
    edge.clock.now += 0.1
    assert where(request_to(cf)) == "/v2"
    assert len(edge.reads) == 2


def test_unchanged_version_is_not_recompiled(table, cf, edge, monkeypatch):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    cache = edge.configure()
    request_to(cf)
    first = cache.current
    edge.clock.now += 61
    request_to(cf)
    assert cache.current is first and len(edge.reads) == 2


def test_read_failure_keeps_serving_the_cached_config(table, cf, edge):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    edge.configure()
    assert where(request_to(cf)) == "/v1"
    edge.clients["us-west-2"].fail = True
    edge.clock.now += 61
    assert where(request_to(cf)) == "/v1"
    assert where(request_to(cf)) == "/v1"
    assert len(edge.reads) == 2  # the failed read is not retried before the next TTL window
    edge.clients["us-west-2"].fail = False
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V2, 2))
    edge.clock.now += 61
    assert where(request_to(cf)) == "/v2"


def test_read_failure_without_a_cached_config_fails_open(table, cf, edge):
    cache = edge.configure()
    cache.get()
    edge.clients["us-west-2"].fail = True
    edge.clock.now += 61
    assert where(request_to(cf)) == "pass-through"


@pytest.mark.parametrize("overrides", [
    {"content_hash": {"S": "sha256:" + "0" * 64}},
    {"content": {"S": "{not json"}},
    {"schema_version": {"N": str(edge_handler.SCHEMA_VERSION + 1)}},
    {"config_version": {"S": "two"}},
], ids=["hash-mismatch", "not-json", "newer-schema", "bad-version"])
def test_invalid_item_keeps_the_last_good_config(table, cf, edge, overrides):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    edge.configure()
    assert where(request_to(cf)) == "/v1"
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V2, 2, **overrides))
    edge.clock.now += 61
    assert where(request_to(cf)) == "/v1"


def test_item_failing_validation_is_rejected(table, cf, edge):
    bad_content = edge_handler.canonical_json({"redirects": [{"from": "/old", "to": "/x", "status": 303}]})
    item = cf.current_item("prod", V1, 1, content={"S": bad_content},
                           content_hash={"S": edge_handler.content_hash(bad_content)})
    table.put_item(TableName=TABLE, Item=item)
    edge.configure()
    assert where(request_to(cf)) == "pass-through"
    with pytest.raises(edge_handler.InvalidItem, match=r"redirects\[0\]\.status"):
        edge_handler.parse_item(item)


def test_no_item_fails_open(table, cf, edge):
    cache = edge.configure()
    assert where(request_to(cf)) == "pass-through"
    assert cache.current is None and len(edge.reads) == 1


def test_missing_table_fails_open(aws, cf, edge):
    edge.configure()
    assert where(request_to(cf)) == "pass-through"


def test_unbaked_module_passes_everything_through_without_reading(cf, edge):
    cache = edge.configure(edge_handler.BAKED_SETTINGS)
    assert where(request_to(cf)) == "pass-through"
    assert cache.reads == 0 and edge.reads == []


# --- replica choice ----------------------------------------------------------------------------

REPLICATED = dict(SETTINGS, table_regions=["us-west-2", "eu-west-1", "ap-southeast-2"])


@pytest.mark.parametrize("here, nearest", [
    ("us-east-1", "us-west-2"), ("us-west-2", "us-west-2"), ("ca-central-1", "us-west-2"),
    ("eu-central-1", "eu-west-1"), ("eu-west-2", "eu-west-1"), ("me-south-1", "eu-west-1"),
    ("ap-northeast-1", "ap-southeast-2"), ("ap-southeast-1", "ap-southeast-2"),
    ("unknown-region-1", "us-west-2"), ("", "us-west-2"),
])
def test_nearest_replica_is_chosen_from_the_region_the_function_runs_in(here, nearest):
    assert edge_handler.nearest_regions(here, REPLICATED["table_regions"])[0] == nearest


def test_the_read_goes_to_the_nearest_replica(aws, cf, edge):
    # Three tables stand in for a global table's replicas; each holds a different version so the
    # test can tell which one answered.
    for n, region in enumerate(REPLICATED["table_regions"], start=1):
        client = cf.create_table(TABLE, region)
        client.put_item(TableName=TABLE, Item=cf.current_item("prod", {"redirects": [
            {"from": "/old", "to": f"/from-{region}"}]}, n))
    edge.configure(REPLICATED, here="eu-central-1")
    assert where(request_to(cf)) == "/from-eu-west-1"
    assert edge.reads == ["eu-west-1"]


def test_a_failing_replica_is_followed_by_the_next_nearest(aws, cf, edge):
    for region in REPLICATED["table_regions"]:
        cf.create_table(TABLE, region).put_item(TableName=TABLE, Item=cf.current_item("prod", {"redirects": [
            {"from": "/old", "to": f"/from-{region}"}]}, 1))
    edge.configure(REPLICATED, here="eu-central-1")
    assert where(request_to(cf)) == "/from-eu-west-1"
    edge.clients["eu-west-1"].fail = True
    edge.clock.now += 61
    assert where(request_to(cf)) == "/from-eu-west-1"
    edge.clock.now += 61
    request_to(cf)
    assert edge.reads == ["eu-west-1", "eu-west-1", "us-west-2"]


def test_one_client_is_reused_across_refreshes(table, cf, edge):
    table.put_item(TableName=TABLE, Item=cf.current_item("prod", V1, 1))
    cache = edge.configure()
    for _ in range(5):
        request_to(cf)
        edge.clock.now += 61
    assert len(edge.reads) == 5 and list(cache._clients) == ["us-west-2"]
