"""The local Puter server's egress metering against shared/puter-recorded-2.md §10 (exchanges 169-177): every
authenticated API-host response adds its body bytes to its user's buffer, flushed into ``egress:bytes`` once the
flush interval has passed on the server's clock (moved here, never slept through).

Raw httpx over the real socket, with the helpers of test_local_server.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_local_server import Http, chat, compact, json_of, ndjson_lines

from puter_magic.testing.metering import EGRESS_MICRO_CENTS_PER_BYTE

USAGE = "/metering/usage"
QUESTION = [{"role": "user", "content": "hello there, how are you today?"}]
# recordings 169/171/173, 174 and 175: a default user's usage, byte for byte, with Express's ETag
RECORDED_169 = (
    b'{"usage":{"egress:bytes":{"units":116796,"cost":1305.2970170974731,"count":12},"total":1305.2970170974731,'
    b'"allowanceUsed":1305.2970170974731},"appTotals":{"os-global":{"total":1305.2970170974731,"count":12}},'
    b'"allowanceInfo":{"remaining":49998694.7029829,"monthUsageAllowance":50000000,"addons":{}}}',
    'W/"12a-Ew4fScpvwq9MvKGCC4D3+sUs0ko"',
)
RECORDED_174 = (
    b'{"usage":{"egress:bytes":{"units":129441,"cost":1446.6159045696259,"count":13},"total":1446.6159045696259,'
    b'"allowanceUsed":1446.6159045696259},"appTotals":{"os-global":{"total":1446.6159045696259,"count":13}},'
    b'"allowanceInfo":{"remaining":49998553.38409543,"monthUsageAllowance":50000000,"addons":{}}}',
    'W/"12b-h1T/8UrKfuB9PtSzN9Hg6MFD3PY"',
)
RECORDED_175 = (
    b'{"usage":{"egress:bytes":{"units":139749,"cost":1561.816781759262,"count":14},"total":1561.816781759262,'
    b'"allowanceUsed":1561.816781759262},"appTotals":{"os-global":{"total":1561.816781759262,"count":14}},'
    b'"allowanceInfo":{"remaining":49998438.18321824,"monthUsageAllowance":50000000,"addons":{}}}',
    'W/"127-CFzSNQl4rYkN/r9B37SkTtO8yhY"',
)


def _fake_chat_cost(model: str, direction: str, micro_cents: int) -> dict[str, Any]:
    return {
        "usageType": f"fake-chat:{model}:{direction}-tokens",
        "ucentsPerUnit": micro_cents,
        "unit": "token",
        "source": "driver:aiChat/fake-chat",
        "costs_currency": "usd-cents",
        "registry": "driver",
        "registryKey": "aiChat",
    }


RECORDED_176 = [
    _fake_chat_cost(model, direction, cost)
    for model, costs in (("fake", (0, 0)), ("costly", (1000, 2000)), ("abuse", (0, 0)))
    for direction, cost in zip(("input", "output"), costs, strict=True)
]


@pytest.fixture
def token(http: Http) -> str:
    """A default (confirmed, 50-cent) user's token."""
    http.server.state.add_user("metered", "metered-pass", email="m@example.com", email_confirmed=True)
    return http.server.state.issue_token("metered")


def assert_recorded(response: httpx.Response, recorded: tuple[bytes, str]) -> None:
    assert response.status_code == 200
    assert (response.content, response.headers["etag"]) == recorded


def streamed_size(http: Http, token: str, body: Any) -> int:
    headers = http.headers(http.server.api_host, token, None)
    with http.client.stream("POST", "/drivers/call", json=body, headers=headers) as response:
        raw = response.read()
    ndjson_lines(response, raw)
    return len(raw)


def test_169_171_174_175_the_usage_bodies_are_the_recorded_bytes(http: Http, token: str) -> None:
    state = http.server.state
    user = state.user("metered")
    assert user is not None
    for size in [9733] * 11 + [116796 - 11 * 9733]:  # twelve earlier flushes
        state.add_egress(user, size)
        state.flush_egress()
    first = http.api("GET", USAGE, token=token)
    assert_recorded(first, RECORDED_169)
    state.add_egress(user, 12645 - len(first.content) - len(RECORDED_169[0]))  # 170, 172 between the reads
    assert_recorded(http.api("GET", USAGE, token=token), RECORDED_169)  # 171/173: not flushed yet
    state.advance_clock(10)
    after = http.api("GET", USAGE, token=token)
    assert_recorded(after, RECORDED_174)
    state.add_egress(user, 10308 - len(after.content))  # three costly chats
    state.advance_clock(12)
    assert_recorded(http.api("GET", USAGE, token=token), RECORDED_175)


def test_170_to_174_egress_is_flushed_once_the_interval_has_passed(http: Http, token: str) -> None:
    http.server.state.settings.egress_flush_interval = 60  # room for a slow machine between the reads
    before = http.api("GET", USAGE, token=token)  # 169
    assert before.content == compact(
        {
            "usage": {"total": 0},
            "appTotals": {},
            "allowanceInfo": {"remaining": 50_000_000, "monthUsageAllowance": 50_000_000, "addons": {}},
        }
    )
    sizes = [len(before.content)]
    sizes.append(len(http.call(chat("costly", messages=QUESTION), token=token).content))  # 170
    for body in (chat("costly", stream=True, messages=QUESTION), None):  # 171, 172, 173
        right_after = http.api("GET", USAGE, token=token)
        assert right_after.content == before.content
        sizes.append(len(right_after.content))
        if body is not None:
            sizes.append(streamed_size(http, token, body))
    http.server.state.advance_clock(50)
    assert http.api("GET", USAGE, token=token).content == before.content
    sizes.append(len(before.content))
    http.server.state.advance_clock(10)
    usage = json_of(http.api("GET", USAGE, token=token))  # 174
    cost = sum(sizes) * EGRESS_MICRO_CENTS_PER_BYTE
    assert usage == {
        "usage": {
            "egress:bytes": {"units": sum(sizes), "cost": cost, "count": 1},
            "total": cost,
            "allowanceUsed": cost,
        },
        "appTotals": {"os-global": {"total": cost, "count": 1}},
        "allowanceInfo": {"remaining": 50_000_000 - cost, "monthUsageAllowance": 50_000_000, "addons": {}},
    }
    assert list(usage["usage"]) == ["egress:bytes", "total", "allowanceUsed"]  # no fake-chat:* usage type


def test_175_count_is_one_per_flush_not_per_response(http: Http, token: str) -> None:
    sizes = [len(http.api("GET", USAGE, token=token).content)]
    http.server.state.advance_clock(10)
    sizes.append(len(http.api("GET", USAGE, token=token).content))  # flushes the first read, not itself
    for _ in range(3):
        sizes.append(len(http.call(chat("costly", messages=QUESTION, max_tokens=200), token=token).content))
    http.server.state.advance_clock(12)
    egress = json_of(http.api("GET", USAGE, token=token))["usage"]["egress:bytes"]
    assert egress == {"units": sum(sizes), "cost": sum(sizes) * EGRESS_MICRO_CENTS_PER_BYTE, "count": 2}


def test_with_no_flush_interval_every_authenticated_api_response_is_metered_at_once(http: Http, token: str) -> None:
    http.server.state.settings.egress_flush_interval = 0
    sizes = [len(http.api("GET", "/whoami", token=token).content)]
    sizes.append(len(http.call(chat("fake"), token=token).content))
    assert http.api("GET", USAGE, token="not.a.token").status_code == 401  # no user: not metered
    assert http.gui("GET", "/get-anticsrf-token", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    usage = json_of(http.api("GET", USAGE, token=token))
    assert usage["usage"]["egress:bytes"]["units"] == sum(sizes)
    assert usage["appTotals"]["os-global"]["count"] == 2
    sizes.append(len(compact(usage)))  # the body as sent: compact JSON
    assert json_of(http.api("GET", USAGE, token=token))["usage"]["egress:bytes"]["units"] == sum(sizes)


def test_the_flush_interval_is_a_setting_of_the_control_api(http: Http) -> None:
    assert http.client.get("/__fake__/settings").json()["egress_flush_interval"] == 10
    assert http.client.post("/__fake__/settings", json={"egress_flush_interval": 0}).status_code == 200
    assert http.server.state.settings.egress_flush_interval == 0


def test_176_all_costs_lists_the_fake_chat_prices_as_recorded(http: Http, token: str) -> None:
    costs = json_of(http.api("GET", "/metering/allCosts", token=token))["costs"]
    assert [entry for entry in costs if entry["usageType"].startswith("fake-chat:")] == RECORDED_176
    echo = next(entry for entry in costs if entry["usageType"] == "local:echo:prompt_tokens")
    assert echo["ucentsPerUnit"] == 50 and echo["source"] == "driver:aiChat/local"


def test_a_compressed_answer_is_metered_by_the_body_it_compressed(http: Http, token: str) -> None:
    http.server.state.settings.egress_flush_interval = 0
    long_question = [{"role": "user", "content": "lorem ipsum " * 200}]
    answer = http.call(chat("echo", messages=long_question), token=token, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    egress = json_of(http.api("GET", USAGE, token=token))["usage"]["egress:bytes"]
    assert egress["units"] == len(answer.content) > answer.num_bytes_downloaded


def test_177_a_temp_user_pays_its_egress_from_25_cents(http: Http) -> None:
    temp = json_of(http.gui("POST", "/signup", json={"is_temp": True}))["token"]
    first = http.api("GET", USAGE, token=temp)
    assert first.content == compact(
        {
            "usage": {"total": 0},
            "appTotals": {},
            "allowanceInfo": {"remaining": 25_000_000, "monthUsageAllowance": 25_000_000, "addons": {}},
        }
    )
    http.server.state.advance_clock(10)
    allowance = json_of(http.api("GET", USAGE, token=temp))["allowanceInfo"]
    assert allowance["remaining"] == 25_000_000 - len(first.content) * EGRESS_MICRO_CENTS_PER_BYTE
