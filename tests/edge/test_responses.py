"""origin-response Cache-Control rules and the viewer-response experiment cookie, on CloudFront-shaped events."""

from __future__ import annotations

import copy

import pytest

from templates.edge_functions import edge_handler

SITE = {
    "experiments": [{
        "name": "checkout",
        "prefix": "/shop",
        "cookie_max_age_days": 14,
        "variants": [{"name": "control", "weight": 50},
                     {"name": "one-page", "weight": 50, "origin_prefix": "/_variants/one-page"}],
    }],
    "cache_control": [
        {"path_regex": r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$", "value": "public, max-age=31536000, immutable"},
        {"path": "/shop/*", "value": "public, max-age=60"},
        {"path": "*.html", "value": "public, max-age=0, must-revalidate"},
    ],
}


@pytest.fixture(autouse=True)
def site(use_config):
    return use_config(SITE)


def origin(cf, uri: str, status: str = "200", headers: dict | None = None) -> dict:
    event = cf.response("origin-response", uri=uri, status=status, response_headers=headers)
    return edge_handler.origin_response(event, None)


def cache_control(response: dict) -> str | None:
    entries = response["headers"].get("cache-control")
    if entries is None:
        return None
    assert entries == [{"key": "Cache-Control", "value": entries[0]["value"]}]
    return entries[0]["value"]


# --- origin-response: Cache-Control ------------------------------------------------------------


@pytest.mark.parametrize("uri, expected", [
    ("/assets/app.3f9a1c2b.js", "public, max-age=31536000, immutable"),
    ("/assets/main-0a1b2c3d4e5f.css", "public, max-age=31536000, immutable"),
    ("/index.html", "public, max-age=0, must-revalidate"),
    ("/docs/a%20b.html", "public, max-age=0, must-revalidate"),
    ("/shop/index.html", "public, max-age=60"),
    ("/_variants/one-page/shop/index.html", "public, max-age=60"),
    ("/_variants/one-page/shop/app.0123abcd.js", "public, max-age=31536000, immutable"),
    ("/data.json", None),
    ("/assets/app.js", None),
])
def test_first_matching_rule_sets_cache_control(cf, uri, expected):
    assert cache_control(origin(cf, uri)) == expected


def test_existing_cache_control_from_the_origin_is_kept(cf):
    headers = {"cache-control": [{"key": "Cache-Control", "value": "no-cache"}]}
    assert cache_control(origin(cf, "/index.html", headers=headers)) == "no-cache"


@pytest.mark.parametrize("status, applies", [("200", True), ("206", True), ("304", True),
                                              ("403", False), ("404", False), ("500", False), ("301", False)])
def test_only_successful_and_not_modified_responses_get_a_rule(cf, status, applies):
    value = cache_control(origin(cf, "/index.html", status=status))
    assert (value is not None) == applies


def test_other_response_headers_are_untouched(cf):
    event = cf.response("origin-response", uri="/index.html")
    before = copy.deepcopy(event["Records"][0]["cf"]["response"])
    after = edge_handler.origin_response(event, None)
    del after["headers"]["cache-control"]
    assert after == before


def test_default_rules_when_the_config_has_none(cf, use_config):
    use_config({})
    assert cache_control(origin(cf, "/a.0123456789abcdef.woff2")) == "public, max-age=31536000, immutable"
    assert cache_control(origin(cf, "/about/index.html")) == "public, max-age=0, must-revalidate"


def test_origin_response_without_config_or_headers_is_returned_as_is(cf, use_config):
    use_config(None)
    assert cache_control(origin(cf, "/index.html")) is None
    use_config(SITE)
    assert cache_control(origin(cf, "/index.html", headers={})) == "public, max-age=0, must-revalidate"


# --- viewer-response: the sticky experiment cookie ----------------------------------------------


def viewer(cf, uri: str, cookies: list[str] | None = None, headers: dict | None = None,
           client_ip: str = "203.0.113.178") -> dict:
    event = cf.response("viewer-response", uri=uri, cookies=cookies, response_headers=headers, client_ip=client_ip)
    return edge_handler.viewer_response(event, None)


def set_cookies(response: dict) -> list[str]:
    return [entry["value"] for entry in response["headers"].get("set-cookie", [])]


def test_new_viewer_gets_the_cookie_of_the_variant_viewer_request_chose(cf):
    for n in range(40):
        ip = f"198.51.100.{n}"
        request_event = cf.viewer_request("/shop/cart.html", client_ip=ip)
        routed = edge_handler.viewer_request(request_event, None)["uri"]
        chosen = "one-page" if routed.startswith("/_variants/one-page/") else "control"
        assert set_cookies(viewer(cf, "/shop/cart.html", client_ip=ip)) == [
            f"edge-ab-checkout={chosen}; Path=/; Max-Age={14 * 86400}; Secure; SameSite=Lax"]


def test_rewritten_uri_pins_the_variant_that_was_served(cf):
    assert set_cookies(viewer(cf, "/_variants/one-page/shop/cart.html"))[0].startswith("edge-ab-checkout=one-page;")


def test_viewer_with_a_valid_cookie_gets_no_new_cookie(cf):
    assert set_cookies(viewer(cf, "/shop/cart.html", cookies=["a=b; edge-ab-checkout=control"])) == []


def test_stale_cookie_is_replaced(cf):
    assert set_cookies(viewer(cf, "/shop/x.html", cookies=["edge-ab-checkout=removed-variant"]))[0].startswith(
        "edge-ab-checkout=")


def test_existing_set_cookie_headers_are_kept(cf):
    headers = {"set-cookie": [{"key": "Set-Cookie", "value": "session=1; Path=/"}]}
    cookies = set_cookies(viewer(cf, "/shop/a.html", headers=headers))
    assert cookies[0] == "session=1; Path=/" and cookies[1].startswith("edge-ab-checkout=") and len(cookies) == 2


def test_no_cookie_outside_experiments_or_without_config(cf, use_config):
    assert set_cookies(viewer(cf, "/about.html")) == []
    use_config(None)
    assert set_cookies(viewer(cf, "/shop/a.html")) == []


def test_response_triggers_fail_open(cf, monkeypatch):
    def boom(*args):
        raise RuntimeError("bug")
    monkeypatch.setattr(edge_handler, "experiment_cookie", boom)
    monkeypatch.setattr(edge_handler, "cache_control_for", boom)
    assert set_cookies(viewer(cf, "/shop/a.html")) == []
    assert cache_control(origin(cf, "/index.html")) is None
