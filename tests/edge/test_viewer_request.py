"""viewer-request: redirects, index and SPA rewrites, experiments and maintenance on CloudFront-shaped events."""

from __future__ import annotations

import copy
import json

import pytest

from templates.edge_functions import edge_handler

SITE = {
    "redirects": [
        {"from": "/old", "to": "/new"},
        {"from": "/drop", "to": "/target?x=1", "status": 302, "query": "drop"},
        {"from": "/q", "to": "/t?ref=old", "status": 307},
        {"from": "/café", "to": "/cafe", "status": 308},
        {"from": "/anchor", "to": "/help#faq", "status": 307},
        {"from": "/blog/special", "to": "/special", "status": 302},
        {"prefix": "/blog", "to": "https://blog.example.com", "status": 301},
        {"prefix": "/blog/archive/", "to": "https://archive.example.com/", "status": 302, "keep_path": False},
    ],
    "rewrites": {"directory_index": "index.html", "spa_fallback": True, "spa_exclude_prefixes": ["/api"]},
    "experiments": [{
        "name": "checkout",
        "prefix": "/shop",
        "variants": [{"name": "control", "weight": 50},
                     {"name": "one-page", "weight": 50, "origin_prefix": "/_variants/one-page"},
                     {"name": "retired", "weight": 0, "origin_prefix": "/_variants/retired"}],
    }],
}


def assert_cloudfront_response(response: dict) -> None:
    """What CloudFront accepts from a viewer-request function that generates a response."""
    assert isinstance(response["status"], str) and response["status"].isdigit() and len(response["status"]) == 3
    assert isinstance(response["statusDescription"], str)
    for name, entries in response["headers"].items():
        assert name == name.lower()
        for entry in entries:
            assert set(entry) == {"key", "value"} and entry["key"].lower() == name
            assert isinstance(entry["value"], str) and entry["value"].isascii()
    if "body" in response:
        assert response["bodyEncoding"] == "text"
    assert len(json.dumps(response).encode()) < 40 * 1024


def run(cf, uri: str, **kwargs) -> dict:
    result = edge_handler.viewer_request(cf.viewer_request(uri, **kwargs), None)
    if "status" in result:
        assert_cloudfront_response(result)
    return result


def location(result: dict) -> str:
    assert result["headers"]["location"][0]["key"] == "Location"
    return result["headers"]["location"][0]["value"]


@pytest.fixture(autouse=True)
def site(use_config):
    return use_config(SITE)


# --- redirects ---------------------------------------------------------------------------------


def test_exact_redirect_is_a_301_with_location_and_no_body(cf):
    result = run(cf, "/old")
    assert (result["status"], result["statusDescription"]) == ("301", "Moved Permanently")
    assert location(result) == "/new"
    assert "body" not in result


@pytest.mark.parametrize("uri, query, expected", [
    ("/old", "utm_source=mail&b=2", "/new?utm_source=mail&b=2"),
    ("/q", "a=1", "/t?ref=old&a=1"),
    ("/drop", "a=1", "/target?x=1"),
    ("/anchor", "a=1", "/help?a=1#faq"),
    ("/anchor", "", "/help#faq"),
])
def test_query_string_is_kept_or_dropped_per_rule(cf, uri, query, expected):
    assert location(run(cf, uri, querystring=query)) == expected


@pytest.mark.parametrize("status, description", [
    (301, "Moved Permanently"), (302, "Found"), (307, "Temporary Redirect"), (308, "Permanent Redirect")])
def test_every_redirect_status(cf, use_config, status, description):
    use_config({"redirects": [{"from": "/a", "to": "/b", "status": status}]})
    result = run(cf, "/a")
    assert (result["status"], result["statusDescription"]) == (str(status), description)


@pytest.mark.parametrize("uri", ["/caf%C3%A9", "/caf%c3%a9"])
def test_encoded_request_path_matches_the_decoded_rule(cf, uri):
    result = run(cf, uri)
    assert result["status"] == "308" and location(result) == "/cafe"


def test_rule_written_percent_encoded_matches_too(cf, use_config):
    use_config({"redirects": [{"from": "/caf%C3%A9", "to": "/caf%C3%A9-new"}]})
    assert location(run(cf, "/caf%C3%A9")) == "/caf%C3%A9-new"


def test_non_ascii_target_is_percent_encoded_in_location(cf, use_config):
    use_config({"redirects": [{"from": "/menu", "to": "/café/menü"}]})
    assert location(run(cf, "/menu")) == "/caf%C3%A9/men%C3%BC"


@pytest.mark.parametrize("uri, expected", [
    ("/blog", "https://blog.example.com"),
    ("/blog/", "https://blog.example.com"),
    ("/blog/2020/post", "https://blog.example.com/2020/post"),
    ("/blog/caf%C3%A9", "https://blog.example.com/caf%C3%A9"),
    ("/blog/archive", "https://archive.example.com/"),
    ("/blog/archive/2019/x", "https://archive.example.com/"),
    ("/blog/special", "/special"),
])
def test_prefix_rules_take_the_longest_prefix_and_exact_rules_win(cf, uri, expected):
    assert location(run(cf, uri)) == expected


@pytest.mark.parametrize("uri", ["/blogging", "/bloG/x", "/older"])
def test_prefix_matches_whole_segments_only_and_case_sensitively(cf, uri):
    assert "status" not in run(cf, uri)


def test_root_prefix_rule_moves_the_whole_site(cf, use_config):
    use_config({"redirects": [{"prefix": "/", "to": "https://new.example.com/"}]})
    assert location(run(cf, "/a/b.html", querystring="x=1")) == "https://new.example.com/a/b.html?x=1"
    assert location(run(cf, "/")) == "https://new.example.com/"


def test_oversized_redirect_passes_the_request_through_instead(cf):
    # A Location over the 40 KB generated-response limit would make CloudFront answer 502.
    huge = "a=" + "x" * (41 * 1024)
    result = run(cf, "/old", querystring=huge)
    assert "status" not in result and result["uri"] == "/old" and result["querystring"] == huge


# --- open redirects: a relative rule never sends the viewer to another host --------------------


def browser_target_host(location: str, site: str = "site.example") -> str:
    """The host a browser goes to when it follows `location` from https://site.example/ (WHATWG URL parsing).

    Browsers drop leading C0 controls and spaces, remove every tab and newline, and read \\ as / in
    http(s) URLs; then //host or a scheme names another host.
    """
    text = location.lstrip("".join(map(chr, range(0x21))))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    scheme, sep, rest = text.partition(":")
    if sep and scheme.isascii() and scheme[:1].isalpha() and all(c.isalnum() or c in "+-." for c in scheme):
        text = "//" + rest.lstrip("/")  # an absolute URL (http:evil.example.com too): whatever host it names
    if text.startswith("//"):
        return text[2:].split("/")[0].split("?")[0].split("#")[0].rsplit("@", 1)[-1]
    return site


STRIP_PREFIX = {"redirects": [{"prefix": "/old", "to": "/"}, {"prefix": "/legacy", "to": "/new/"}]}


@pytest.mark.parametrize("uri", [
    "/old//evil.example.com",
    "/old///evil.example.com",
    "/old/%2F%2Fevil.example.com",
    "/old/%2f/evil.example.com",
    "/old//%2Fevil.example.com",
    "/old/%5Cevil.example.com",
    "/old/%5C%5Cevil.example.com",
    "/old/%2F%5Cevil.example.com",
    "/old/%5C/evil.example.com",
    "/old/\\evil.example.com",
    "/old/\\/evil.example.com",
    "/old/%252F%252Fevil.example.com",
    "/old/%09/evil.example.com",
    "/old/%0A/evil.example.com",
    "/old/%2F%09%2Fevil.example.com",
    "/old/./evil.example.com/",
    "/old/../..//evil.example.com",
    "/old/%2e%2e/%2e%2e//evil.example.com",
    "/old/a/../../..//evil.example.com",
    "/old//evil.example.com/%2F..",
    "/old/%EF%BC%8F%EF%BC%8Fevil.example.com",
    "/old/@evil.example.com",
    "/legacy//evil.example.com",
    "/legacy/%5C%5Cevil.example.com",
])
def test_a_relative_prefix_rule_never_sends_the_viewer_to_another_host(cf, use_config, uri):
    use_config(STRIP_PREFIX)
    result = run(cf, uri, querystring="next=//evil.example.com&x=%0D%0A")
    assert result["status"] == "301"
    target = location(result)
    assert browser_target_host(target) == "site.example", target
    assert target.startswith("/") and target[1:2] not in ("/", "\\")


@pytest.mark.parametrize("uri, expected", [
    ("/old//evil.example.com", "/evil.example.com"),
    ("/old/%2F%2Fevil.example.com/x/", "/evil.example.com/x/"),
    ("/old/%5Cevil.example.com", "/evil.example.com"),
    ("/old/a/./b//c", "/a/b/c"),
    ("/old/a/b/../c", "/a/c"),
    ("/old/../../x", "/x"),
    ("/old//", "/"),
    ("/legacy//a", "/new/a"),
    ("/legacy/%2E%2E", "/new/"),
])
def test_the_path_is_normalised_before_it_is_joined_into_the_target(cf, use_config, uri, expected):
    use_config(STRIP_PREFIX)
    assert location(run(cf, uri)) == expected


def test_an_absolute_target_keeps_its_host_whatever_the_path(cf, use_config):
    use_config({"redirects": [{"prefix": "/blog", "to": "https://blog.example.com"}]})
    for uri in ("/blog//evil.example.com", "/blog/%2F%2Fevil.example.com", "/blog/%5C%5Cevil.example.com",
                "/blog/@evil.example.com", "/blog/..//evil.example.com"):
        target = location(run(cf, uri))
        assert browser_target_host(target) == "blog.example.com", target


def test_a_query_string_with_characters_a_header_cannot_carry_is_encoded(cf, use_config):
    use_config(STRIP_PREFIX)
    assert location(run(cf, "/old/a", querystring="q=a b&r=\r\nSet-Cookie:x#f")) == (
        "/a?q=a%20b&r=%0D%0ASet-Cookie:x%23f")
    assert location(run(cf, "/old/a", querystring="q=%20&r=caf\u00e9")) == "/a?q=%20&r=caf%C3%A9"


# --- rewrites ----------------------------------------------------------------------------------


@pytest.mark.parametrize("uri, expected", [
    ("/", "/index.html"),
    ("/docs/", "/docs/index.html"),
    ("/my%20docs/", "/my%20docs/index.html"),
    ("/app/settings", "/index.html"),
    ("/app/v1.2/settings", "/index.html"),
    ("/app/logo.png", "/app/logo.png"),
    ("/api/users", "/api/users"),
    ("/api", "/api"),
])
def test_directory_index_and_spa_fallback(cf, uri, expected):
    result = run(cf, uri, querystring="page=2")
    assert result["uri"] == expected
    assert result["querystring"] == "page=2"


def test_spa_fallback_off_leaves_extensionless_paths(cf, use_config):
    use_config({"rewrites": {"spa_fallback": False}})
    assert run(cf, "/about")["uri"] == "/about"
    assert run(cf, "/about/")["uri"] == "/about/index.html"


def test_directory_index_can_be_turned_off(cf, use_config):
    use_config({"rewrites": {"directory_index": ""}})
    assert run(cf, "/docs/")["uri"] == "/docs/"


# --- experiments -------------------------------------------------------------------------------


def test_sticky_cookie_selects_the_variant_and_rewrites_the_origin_path(cf):
    result = run(cf, "/shop/cart.html", cookies=["edge-ab-checkout=one-page"])
    assert result["uri"] == "/_variants/one-page/shop/cart.html"
    assert run(cf, "/shop/cart.html", cookies=["edge-ab-checkout=control"])["uri"] == "/shop/cart.html"


def test_cookie_is_found_across_multiple_cookie_headers(cf):
    cookies = ["theme=dark; lang=en", "session=abc;edge-ab-checkout=one-page; tracking=\"q\""]
    assert run(cf, "/shop/a.html", cookies=cookies)["uri"] == "/_variants/one-page/shop/a.html"


def test_variant_rewrite_composes_with_the_index_and_spa_rewrites(cf):
    cookie = ["edge-ab-checkout=one-page"]
    assert run(cf, "/shop/", cookies=cookie)["uri"] == "/_variants/one-page/shop/index.html"
    assert run(cf, "/shop/orders/42", cookies=cookie)["uri"] == "/_variants/one-page/index.html"


@pytest.mark.parametrize("cookie", ["edge-ab-checkout=bogus", "edge-ab-checkout=retired", "edge-ab-checkout="])
def test_unknown_or_retired_variant_cookie_is_reassigned_by_viewer_id(cf, site, cookie):
    experiment = site.experiments["/shop"]
    expected = edge_handler.assign_variant(experiment, "ip:203.0.113.178|curl/7.66.0")
    uri = run(cf, "/shop/cart.html", cookies=[cookie])["uri"]
    assert uri == expected.origin_prefix + "/shop/cart.html"
    assert expected.name != "retired"


def test_assignment_without_cookie_is_deterministic_per_viewer(cf, site):
    experiment = site.experiments["/shop"]
    seen = {}
    for n in range(200):
        ip = f"198.51.100.{n}"
        first = run(cf, "/shop/cart.html", client_ip=ip)["uri"]
        assert run(cf, "/shop/cart.html", client_ip=ip)["uri"] == first
        seen[first] = seen.get(first, 0) + 1
        variant = edge_handler.assign_variant(experiment, f"ip:{ip}|curl/7.66.0")
        assert first == variant.origin_prefix + "/shop/cart.html"
    assert set(seen) == {"/shop/cart.html", "/_variants/one-page/shop/cart.html"}


def test_ipv6_clients_are_assigned_too(cf):
    uri = run(cf, "/shop/a.css", client_ip="2001:db8::7")["uri"]
    assert uri in ("/shop/a.css", "/_variants/one-page/shop/a.css")


def test_missing_headers_do_not_break_assignment(cf):
    result = run(cf, "/shop/cart.html", headers={})
    assert result["uri"] in ("/shop/cart.html", "/_variants/one-page/shop/cart.html")


def test_viewer_id_cookie_makes_assignment_follow_the_viewer_across_ips(cf, use_config):
    doc = copy.deepcopy(SITE)
    doc["experiments"][0]["viewer_id_cookie"] = "session-id"
    config = use_config(doc)
    experiment = config.experiments["/shop"]
    for session in ("s-1", "s-2", "s-3", "s-4", "s-5", "s-6"):
        expected = edge_handler.assign_variant(experiment, f"cookie:{session}").origin_prefix + "/shop/a.js"
        for ip in ("203.0.113.1", "2001:db8::1", "198.51.100.9"):
            assert run(cf, "/shop/a.js", client_ip=ip, cookies=[f"session-id={session}"])["uri"] == expected


def test_paths_outside_the_experiment_are_not_rewritten(cf):
    assert run(cf, "/shopping/list.html")["uri"] == "/shopping/list.html"


# --- maintenance -------------------------------------------------------------------------------

MAINTENANCE = {
    "redirects": [{"from": "/old", "to": "/new"}],
    "maintenance": {"enabled": True, "retry_after_seconds": 120,
                    "allow_cidrs": ["198.51.100.0/24", "2001:db8::/32"]},
}


@pytest.mark.parametrize("client_ip", ["203.0.113.178", "2001:db9::1", "::ffff:203.0.113.9", "", "not-an-ip"])
def test_maintenance_page_for_everyone_outside_the_allow_list(cf, use_config, client_ip):
    use_config(MAINTENANCE)
    result = run(cf, "/old", client_ip=client_ip)
    assert (result["status"], result["statusDescription"]) == ("503", "Service Unavailable")
    assert result["headers"]["retry-after"] == [{"key": "Retry-After", "value": "120"}]
    assert result["headers"]["cache-control"][0]["value"] == "no-store"
    assert result["headers"]["content-type"][0]["value"].startswith("text/html")
    assert "maintenance" in result["body"]


@pytest.mark.parametrize("client_ip", ["198.51.100.7", "2001:db8:ffff::1", "::ffff:198.51.100.7"])
def test_allowed_clients_pass_through_maintenance_to_the_normal_rules(cf, use_config, client_ip):
    use_config(MAINTENANCE)
    assert location(run(cf, "/old", client_ip=client_ip)) == "/new"
    assert run(cf, "/page.html", client_ip=client_ip)["uri"] == "/page.html"


def test_custom_maintenance_page_at_the_size_limit_stays_under_40_kb(cf, use_config):
    page = "<html>" + "x" * (32 * 1024 - 13) + "</html>"
    use_config({"maintenance": {"enabled": True, "body_html": page}})
    result = run(cf, "/")
    assert result["body"] == page and result["headers"]["retry-after"][0]["value"] == "600"


# --- failing open ------------------------------------------------------------------------------


def test_no_configuration_passes_every_request_through_unchanged(cf, use_config):
    use_config(None)
    event = cf.viewer_request("/old", querystring="a=1")
    expected = copy.deepcopy(event["Records"][0]["cf"]["request"])
    assert edge_handler.viewer_request(event, None) == expected


def test_an_internal_error_passes_the_request_through(cf, monkeypatch):
    def boom(config, request):
        raise RuntimeError("bug")
    monkeypatch.setattr(edge_handler, "route_viewer_request", boom)
    event = cf.viewer_request("/docs/")
    assert edge_handler.viewer_request(event, None)["uri"] == "/docs/"


@pytest.mark.parametrize("request_patch", [{"uri": None}, {"headers": {"cookie": [{"key": "Cookie"}]}},
                                           {"clientIp": None}])
def test_odd_requests_never_raise(cf, request_patch):
    event = cf.viewer_request("/shop/x")
    event["Records"][0]["cf"]["request"].update(request_patch)
    result = edge_handler.viewer_request(event, None)
    assert result is event["Records"][0]["cf"]["request"]


def test_compiled_records_take_exactly_their_fields_and_are_immutable_values():
    variant = edge_handler.Variant("b", 1, "/_v/b")
    assert variant == edge_handler.Variant(name="b", weight=1, origin_prefix="/_v/b")
    assert hash(variant) == hash(edge_handler.Variant("b", weight=1, origin_prefix="/_v/b"))
    assert repr(variant) == "Variant(name='b', weight=1, origin_prefix='/_v/b')"
    for args, kwargs in [((), {}), (("b", 1), {}), (("b", 1, "", 2), {}), (("b",), {"name": "c", "weight": 1}),
                         (("b", 1), {"other": ""}), ((), {"name": "b", "weight": 1, "origin_prefix": "", "x": 1})]:
        with pytest.raises(TypeError, match=r"Variant\(\) takes exactly the fields name, weight, origin_prefix"):
            edge_handler.Variant(*args, **kwargs)
    with pytest.raises(AttributeError, match="immutable"):
        variant.weight = 2
