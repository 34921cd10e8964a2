"""The OpenAPI document is the server's truth: a request its schema accepts is one the server
accepts, and the other way round. Client generators (openapi-generator, orval,
openapi-python-client) build clients from /openapi.json, so every field's real rule (range,
whole numbers, null, bureau codes, the Kaggle spellings) must be in it. Schemathesis
(test_schemathesis.py) draws random requests; these tests walk every field's edges on purpose,
so a rule the document leaves out fails here deterministically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from serve_helpers import SEED, Server

# Values at and around every field's edges, and every JSON type.
EDGES: list[Any] = [
    -1,
    -0.5,
    0,
    0.0,
    0.5,
    1,
    2.0,
    2.5,
    17,
    18,
    50,
    51,
    94,
    95,
    95.5,
    96,
    96.0,
    97,
    98,
    99,
    100,
    101,
    120,
    121,
    200,
    201,
    1e5,
    100000.5,
    1e6,
    1000001,
    1e8,
    1e8 + 1,
    1e300,
    -1e300,
    None,
    "1",
    True,
    False,
    [],
    {},
]
FIELDS = list(SEED)
ALIASES = {
    "NumberOfTime30_59DaysPastDueNotWorse": "NumberOfTime30-59DaysPastDueNotWorse",
    "NumberOfTime60_89DaysPastDueNotWorse": "NumberOfTime60-89DaysPastDueNotWorse",
}
ABSENT = object()


def body_schema(doc: dict[str, Any], path: str) -> Draft202012Validator:
    """A validator for the JSON request body of `POST path`, with the document's components."""
    schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]})


def response_schema(doc: dict[str, Any], path: str, status: int) -> Draft202012Validator:
    schema = doc["paths"][path]["post"]["responses"][str(status)]["content"]["application/json"][
        "schema"
    ]
    return Draft202012Validator({**schema, "components": doc["components"]})


def with_field(name: str, value: Any) -> dict[str, Any]:
    body = dict(SEED)
    if value is ABSENT:
        del body[name]
    else:
        body[name] = value
    return body


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("contract")
    s = Server(
        d, "--log", f"sqlite://{d}/p.db", "--max-batch", "50", env={"CREDIT_ADMIN_TOKEN": "c-token"}
    )
    # `models:/` references must not reach a real registry: without one they are 409.
    s.env.pop("MLFLOW_TRACKING_URI", None)
    s.start()
    yield s
    s.stop()


def test_every_field_schema_valid_iff_accepted(contract_server: Server) -> None:
    doc = contract_server.get("/openapi.json").json()
    valid = body_schema(doc, "/predict")
    disagree = []
    bodies = [with_field(f, v) for f in FIELDS for v in [*EDGES, ABSENT]]
    # The Kaggle spellings: alone they are the field; with the canonical name a duplicate.
    for canonical, alias in ALIASES.items():
        for v in (0, 95, 96, 97, 98, 2.5, None):
            b = with_field(canonical, ABSENT)
            b[alias] = v
            bodies.append(b)
        bodies.append({**SEED, alias: SEED[canonical]})
        b = with_field(canonical, ABSENT)
        bodies.append(b)
    for body in bodies:
        r = contract_server.post("/predict", body)
        assert r.status_code in (200, 422), r.text
        if valid.is_valid(body) != (r.status_code == 200):
            disagree.append((body, r.status_code, r.text[:200]))
    assert not disagree, (
        f"{len(disagree)} of {len(bodies)} bodies: schema and server disagree, e.g. {disagree[:3]}"
    )


def test_batch_items_schema_matches_per_item_errors(contract_server: Server) -> None:
    """A batch scores its valid items and answers each invalid one with its own errors (200):
    the request schema accepts any item, and the per-item errors are in the response schema."""
    doc = contract_server.get("/openapi.json").json()
    req = body_schema(doc, "/predict/batch")
    body = {"applicants": [{**SEED, "x-unknown": 42}, "oops", SEED, {**SEED, "age": 17}]}
    r = contract_server.post("/predict/batch", body)
    assert r.status_code == 200, r.text
    assert req.is_valid(body), list(req.iter_errors(body))[:2]
    results = r.json()["results"]
    assert results[0]["errors"][0]["type"] == "unknown_field" and "prediction" in results[2]
    resp = response_schema(doc, "/predict/batch", 200)
    assert resp.is_valid(r.json()), list(resp.iter_errors(r.json()))[:2]
    # What the server refuses as a whole, the schema refuses too.
    for refused in (
        {"applicants": [], "extra": 1},
        {"applicants": [SEED] * 51},
        {"applicants": {}},
        [SEED],
        {},
    ):
        r = contract_server.post("/predict/batch", refused)
        assert r.status_code == 422, r.text
        assert not req.is_valid(refused), refused


def test_admin_reload_documented_only_when_on(
    make_server: Any, workdir: Path, contract_server: Server
) -> None:
    off = make_server("--log", f"sqlite://{workdir}/p.db")
    doc = off.get("/openapi.json").json()
    assert off.post("/admin/reload", None, data=b"").status_code == 404
    assert "/admin/reload" not in doc["paths"]
    assert "bearer" not in doc["components"].get("securitySchemes", {})
    assert "admin" not in {t["name"] for t in doc.get("tags", [])}
    on = contract_server.get("/openapi.json").json()
    assert on["paths"]["/admin/reload"]["post"]["security"] == [{"bearer": []}]
    r = contract_server.post("/admin/reload", None, data=b"")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_admin_reload_body_schema_valid_iff_accepted(contract_server: Server) -> None:
    """The reload body: an object with `model` (or its older spelling `path`, not both), whose
    reference is well formed. A well-formed reference to nothing is 409, not a schema matter."""
    doc = contract_server.get("/openapi.json").json()
    valid = body_schema(doc, "/admin/reload")
    auth = {"authorization": "Bearer c-token"}
    for body in (
        None,
        [None, None],
        ["x"],
        1,
        "models:/a/1",
        {"model": "a", "path": "a"},
        {"model": "a", "path": "b"},
        {"other": "a"},
    ):
        r = contract_server.post("/admin/reload", body, headers=auth)
        assert r.status_code in (400, 422), (body, r.status_code, r.text)
        assert not valid.is_valid(body), body
    for body in ({}, {"model": None}, {"path": None}):
        r = contract_server.post("/admin/reload", body, headers=auth)
        assert r.status_code == 200 and valid.is_valid(body), (body, r.text)
    refs = [
        "",
        "models:",
        "models:/",
        "models:/x",
        "models:/x/0",
        "models:/x/00",
        "models:/x/1",
        "models:/x/007",
        "models:/x/latest",
        "models:/x/+5",
        "models:/x/1 ",
        "models:/x/1\n",
        "models:/x@",
        "models:/x@a",
        "models:/x@a@b",
        "models:/@a",
        "models:/a/b/7",
        "models://7",
        "models:///7",
        "models:/x/18446744073709551615",
        "models:/x/18446744073709551616",
        "models:/x/99999999999999999999",
        "models:/x/09999999999999999999",
        "models:x/1",
        "modelsx",
        "no/such/file.json",
        "models:/x/1@",
        "\n",
        " ",
    ]
    disagree = []
    for ref in refs:
        r = contract_server.post("/admin/reload", {"model": ref}, headers=auth)
        # Well formed: the registry (no MLFLOW_TRACKING_URI here) or the file is not there: 409.
        assert r.status_code in (409, 422), (ref, r.text)
        refused = r.status_code == 422 and r.json()["detail"][0]["type"] == "invalid_reference"
        if valid.is_valid({"model": ref}) == refused:
            disagree.append((ref, r.status_code, r.text[:160]))
    assert not disagree, disagree


def test_documented_statuses_and_headers(contract_server: Server) -> None:
    """Statuses the server can send that the first document left out."""
    doc = contract_server.get("/openapi.json").json()
    health = doc["paths"]["/health"]["get"]["responses"]
    assert "503" in health, "GET /health answers 503 when another instance adopted the journal"
    retry = doc["paths"]["/predict"]["post"]["responses"]["503"]["headers"]["Retry-After"]
    assert retry["schema"]["type"] == "integer"
