"""Fuzzing a real server process (issue 10): no input may ever get a 5xx.

A terminal resends whatever got a 5xx, for ever, so a server error on bad input is an
outage, not a cosmetic bug. Two fuzzers, each bounded so both together stay within about a
minute on a 2-core machine:

* schemathesis generates requests for every operation of the OpenAPI description (terminal
  and admin APIs, with valid tokens), valid and invalid ones, and fails on any 5xx; for the
  terminal API it also fails when an answer is not what the description says (status code,
  body shape), since terminals in the field are written against it;
* a hypothesis fuzzer of the terminal API sends batches and heartbeats built like a
  terminal's but salted with what a hostile client sends (NaN, infinities, huge numbers,
  dates at the ends of the calendar, lone surrogates, repeated ids with other content).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from edge.protocol import API_PREFIX, EventStatus
from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN, ADMIN_TOKEN, bearer, utcnow
from tests.support import in_ci
from tests.support.server_fixtures import PG_ENV, fresh_pg_database

DEVICE = "fz-1"
ADMIN_PREFIX = API_PREFIX + "/admin"
# Cases per operation and generation mode, and the terminal fuzzer's budget: together about
# a minute on a 2-core machine (the CI run is bounded; the protocol is not).
SCHEMATHESIS_EXAMPLES = 4
TERMINAL_FUZZ_EXAMPLES = 80



def fuzz_settings(max_examples: int) -> settings:
    """Bounded and repeatable: the same cases every run, no example database, no shrinking."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Target:
    """A server process with a terminal (its token) and two people, one in another group."""

    url: str
    terminal_token: str
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def saw(self, what: str, status: int, text: str) -> None:
        self.statuses[f"{status // 100}xx"] += 1
        if status >= 500:
            self.failures.append(f"{what}: {status} {text[:300]}")


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One server for both fuzzers: on PostgreSQL where there is one (always in CI), the
    stricter store (32-bit integer columns, enforced string lengths); SQLite otherwise. The
    bounds themselves are tested on both (test_bounds.py)."""
    workdir = tmp_path_factory.mktemp("fuzz")
    databases: Iterator[str] | None = None
    if not os.environ.get(PG_ENV) and not in_ci():
        url = f"sqlite:///{workdir / 'fuzz.db'}"
    else:
        engine: sa.Engine = request.getfixturevalue("pg_admin_engine")
        databases = fresh_pg_database(engine)
        url = next(databases)
    # Bad credentials are part of the fuzzing: the limit must not turn the rest into 429s.
    server = ServerProcess(
        workdir, url, ADMIN_TOKEN, name="fuzz", extra_toml="[auth]\nmax_failures = 1000000\n"
    )
    try:
        with server:
            created = httpx.post(
                f"{server.url}{ADMIN_PREFIX}/terminals", json={"id": DEVICE}, headers=ADMIN
            )
            assert created.status_code == 201, created.text
            for person, group in (("emp-1", "default"), ("emp-2", "other")):
                response = httpx.post(
                    f"{server.url}{ADMIN_PREFIX}/people",
                    json={"id": person, "name": person, "group": group},
                    headers=ADMIN,
                )
                assert response.status_code == 201, response.text
            yield Target(server.url, created.json()["token"])
            assert server.proc is not None
            assert server.proc.poll() is None, "the server died:\n" + server.log()[-3000:]
    finally:
        if databases is not None:
            next(databases, None)


# --- schemathesis over the whole OpenAPI description --------------------------------------------


def _own_device(case: Any) -> None:
    """Terminal bodies name the sending terminal; the fuzzer's own id gets past the 403 to the
    code behind it (other ids are fuzzed too, in the negative mode's other fields)."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("device_id"), str):
        body["device_id"] = DEVICE
        for item in body.get("events") or []:
            if isinstance(item, dict) and "device_id" in item:
                item["device_id"] = DEVICE


_CONFORMANCE = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def _fuzz_operation(target: Target, operation: Any, mode: Any, mismatches: list[str]) -> int:
    """Run one operation's cases in one generation mode; returns how many were sent."""
    path: str = operation.path
    admin_api = path.startswith(ADMIN_PREFIX)
    terminal_api = path.startswith(API_PREFIX) and not admin_api
    headers = ADMIN if admin_api else bearer(target.terminal_token) if terminal_api else {}
    what = f"{operation.method.upper()} {path} ({mode.value})"
    sent = 0

    @fuzz_settings(SCHEMATHESIS_EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        if terminal_api:
            _own_device(case)
        response = case.call(base_url=target.url, headers=headers, timeout=30)
        target.saw(what, response.status_code, response.text)
        if terminal_api and response.status_code < 500:
            try:
                case.validate_response(response, checks=_CONFORMANCE, headers=headers)
            except AssertionError as exc:
                mismatches.append(f"{what}: {str(exc)[:400]}")

    # Unsatisfiable: nothing of this operation can be made invalid (no parameters, no body).
    with contextlib.suppress(Unsatisfiable):
        run()
    return sent


def test_schemathesis_finds_no_server_error(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(f"the OpenAPI description is invalid: {result.err()}")
        operations.append(result.ok())
    # The terminal's operations first: the admin ones may revoke or re-key its token.
    operations.sort(key=lambda op: op.path.startswith(ADMIN_PREFIX))
    mismatches: list[str] = []
    cases = sum(
        _fuzz_operation(target, operation, mode, mismatches)
        for operation in operations
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    )
    print(
        f"schemathesis: {len(operations)} operations, {cases} cases, "
        f"{dict(sorted(target.statuses.items()))}, {len(target.failures)} server errors, "
        f"{len(mismatches)} terminal API schema mismatches"
    )
    assert not target.failures, "\n".join(target.failures[:20])
    assert not mismatches, "\n".join(mismatches[:20])


# --- a hypothesis fuzzer of the terminal API ----------------------------------------------------

# What a hostile client puts where a number, a time or a text should be.
_HOSTILE_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1, 0, 2**31, 2**63, 2**64, 1e15, 1e300, -1e300]),
    st.integers(),
)
_HOSTILE_TIMES = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2026-11-25T08:00:00",
            "2026-02-30T08:00:00Z",
            "not a time",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "+14:00"),
)
_HOSTILE_TEXT = st.one_of(
    st.sampled_from(["\ud800", "a\udfffb", "", "x" * 65, "\x00", "emp-1\n"]),
    st.text(st.characters(codec=None, categories=None), max_size=70),
)


def _sometimes(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """Mostly what a terminal sends (a field is bad one time in 16), so many requests get past
    validation to the code behind it."""
    return st.integers(0, 15).flatmap(lambda n: bad if n == 0 else good)


_BOOTS = st.sampled_from(["boot-a", "boot-b", "boot-c"])
_MONOTONIC = _sometimes(st.floats(0, 1e6), _HOSTILE_NUMBERS)


def _now_text(offset_s: float) -> str:
    return (utcnow() + timedelta(seconds=offset_s)).isoformat()


_WALL = _sometimes(st.floats(-86_400 * 30, 600).map(_now_text), _HOSTILE_TIMES)
_IDS = st.sampled_from([str(uuid.UUID(int=n)) for n in range(1, 40)])  # repeats: conflicts

_EVENTS = st.fixed_dictionaries(
    {
        "id": _sometimes(_IDS, _HOSTILE_TEXT),
        "device_id": _sometimes(st.just(DEVICE), _HOSTILE_TEXT),
        "person_id": _sometimes(st.sampled_from(["emp-1", "emp-2", "emp-9"]), _HOSTILE_TEXT),
        "kind": _sometimes(st.sampled_from(["in", "out"]), _HOSTILE_TEXT),
        "wall_time": _WALL,
        "clock_synced": st.booleans(),
        "monotonic": _MONOTONIC,
        "boot_id": _sometimes(_BOOTS, _HOSTILE_TEXT),
        "distance": _sometimes(st.floats(0, 1), _HOSTILE_NUMBERS),
        "margin": _sometimes(st.floats(0, 4), _HOSTILE_NUMBERS),
    }
)
_BATCHES = st.fixed_dictionaries(
    {
        "device_id": st.just(DEVICE),
        "sent_wall_time": _WALL,
        "sent_monotonic": _MONOTONIC,
        "boot_id": _BOOTS,
        "clock_synced": st.booleans(),
        "events": st.lists(_EVENTS, max_size=8),
    }
)
_HEARTBEATS = st.fixed_dictionaries(
    {
        "device_id": st.just(DEVICE),
        "wall_time": _WALL,
        "monotonic": _MONOTONIC,
        "boot_id": _BOOTS,
        "clock_synced": st.booleans(),
        "software_version": _sometimes(st.just("0.1.0"), _HOSTILE_TEXT),
        "enrolment_version": _sometimes(st.integers(0, 100), _HOSTILE_NUMBERS),
        "backlog": _sometimes(st.integers(0, 1000), _HOSTILE_NUMBERS),
        "backlog_oldest_age_s": _sometimes(st.none() | st.floats(0, 1e5), _HOSTILE_NUMBERS),
        "camera_state": _sometimes(st.just("ok"), _HOSTILE_TEXT),
        "fps": _sometimes(st.floats(0, 30), _HOSTILE_NUMBERS),
        "recognition_latency_ms": _sometimes(st.none() | st.floats(0, 1e4), _HOSTILE_NUMBERS),
    }
)
_REQUESTS = st.lists(
    st.one_of(
        st.tuples(st.just("/events"), _BATCHES), st.tuples(st.just("/heartbeat"), _HEARTBEATS)
    ),
    min_size=1,
    max_size=3,
)


def _encode(body: Any) -> bytes:
    # allow_nan: NaN and Infinity go out as the bare tokens a hostile client would send.
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


def _check_answer(path: str, body: dict[str, Any], response: httpx.Response) -> None:
    if response.status_code == 422:
        answer = response.json()
        assert answer["reason"] == "invalid_request"
        assert all(sorted(p) == ["loc", "msg", "type"] for p in answer["detail"])
    elif response.status_code == 200 and path == "/events":
        results = response.json()["results"]
        assert [r["id"] for r in results] == [e["id"] for e in body["events"]]
        assert {r["status"] for r in results} <= {s.value for s in EventStatus}
    else:
        assert response.status_code in (200, 403), (response.status_code, response.text)


def test_terminal_api_fuzz_finds_no_server_error(target: Target) -> None:
    sent: Counter[str] = Counter()
    with httpx.Client(base_url=target.url + API_PREFIX, timeout=30) as client:
        headers = {**bearer(target.terminal_token), "Content-Type": "application/json"}

        @fuzz_settings(TERMINAL_FUZZ_EXAMPLES)
        @given(requests=_REQUESTS)
        def run(requests: list[tuple[str, dict[str, Any]]]) -> None:
            for path, body in requests:
                response = client.post(path, content=_encode(body), headers=headers)
                sent[f"{path} {response.status_code}"] += 1
                target.saw(path, response.status_code, response.text)
                assert response.status_code < 500, response.text
                _check_answer(path, body, response)

        run()
    print(f"terminal fuzz: {dict(sorted(sent.items()))}")
    # The budget reached the code behind validation, not only the 422 path.
    assert sent["/events 200"] > 0
    assert sent["/heartbeat 200"] > 0


