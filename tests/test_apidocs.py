"""The OpenAPI document's post-processing (bento/apidocs.py, issue 31), in-process on a document
shaped as BentoML 1.4 writes it: JSON listed first with a working example, an example for every
schema (no open map left for Swagger UI to fill with ``additionalProp1``), a summary per
operation, readable schema names and a real server URL. The served document and the page are
checked in tests/test_service_contract.py and tests/test_apidocs_browser.py."""

from __future__ import annotations

import json
import re

from bento.apidocs import ANSWERS, SUMMARIES, contract, open_without_example, schema_name


def _bentoml_like() -> dict:
    """What BentoML 1.4.39 generates for a multipart body with optional files and a JSON-only one."""
    body = {
        "type": "object",
        "title": "RecommendBodyIODescriptor",
        "required": ["age", "gender", "mood"],
        "additionalProperties": False,
        "properties": {
            "age": {"type": "integer", "minimum": 5, "maximum": 120},
            "gender": {"type": "string"},
            "mood": {"type": "integer"},
            "track_ids": {"type": "array", "items": {"type": "string"}},
            "files": {"type": "array", "items": {"type": "file", "format": "binary"}},
        },
    }
    answer = {
        "type": "object",
        "title": "RecommendationIODescriptor",
        "additionalProperties": True,
        "properties": {
            "tracks": {"type": "array", "items": {"$ref": "#/components/schemas/RankedTrack"}},
            "model_versions": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    hrv = {
        "type": "object",
        "title": "AnalyzeHrvBodyIODescriptor",
        "additionalProperties": False,
        "properties": {
            "metrics": {
                "anyOf": [{"type": "object", "additionalProperties": {"type": "number"}}, {"type": "null"}]
            },
            "file": {"type": "file", "format": "binary"},
            "baseline": {"type": "file", "format": "binary"},
        },
    }
    ranked = {
        "type": "object",
        "title": "RankedTrack",
        "additionalProperties": True,
        "properties": {"track_id": {"type": "string"}, "reason": {"type": "string"}},
    }

    def op(name, request, response):
        return {
            "post": {
                "x-bentoml-name": name,
                "description": f"{name}. More words.",
                "requestBody": {"content": {"multipart/form-data": {"schema": request}}},
                "responses": {
                    "200": {
                        "description": "Successful Response",
                        "content": {"application/json": {"schema": response}},
                    }
                },
            }
        }

    return {
        "openapi": "3.0.2",
        "servers": [{"url": "."}],
        "paths": {
            "/recommend": op("recommend", body, answer),
            "/analyze_hrv": op(
                "analyze_hrv",
                hrv,
                {
                    "type": "object",
                    "title": "HrvAnalysisIODescriptor",
                    "additionalProperties": True,
                    "properties": {},
                },
            ),
            "/readyz": {"get": {"responses": {"200": {"description": "ok"}}, "description": "Ready."}},
        },
        "components": {
            "schemas": {
                "RecommendBodyIODescriptor": body,
                "RecommendationIODescriptor": answer,
                "RankedTrack": ranked,
                "AnalyzeHrvBodyIODescriptor": hrv,
                "InvalidArgument": {"type": "object"},
                "TaskStatusResponse": {"type": "object"},
            }
        },
    }


def test_schema_names_read_as_requests_and_answers():
    assert schema_name("RecommendBodyIODescriptor") == "RecommendRequest"
    assert schema_name("RecommendationIODescriptor") == "Recommendation"
    assert schema_name("RankedTrack") == "RankedTrack"


def test_the_document_is_completed_for_the_docs_page():
    example = {"track_ids": ["a", "b"], "age": 30, "gender": "female", "mood": 2}
    spec = contract(_bentoml_like(), version="9.9", examples={"/recommend": example})
    text = json.dumps(spec)
    assert "IODescriptor" not in text
    assert spec["servers"][0]["url"] == "/"
    assert {"InvalidArgument", "TaskStatusResponse"}.isdisjoint(spec["components"]["schemas"])
    # a summary per operation: ours, or the description's first sentence
    assert spec["paths"]["/recommend"]["post"]["summary"] == SUMMARIES["/recommend"]
    assert spec["paths"]["/readyz"]["get"]["summary"] == SUMMARIES["/readyz"]
    # JSON first (Swagger UI's default), with the example; the form beside it keeps the files
    content = spec["paths"]["/recommend"]["post"]["requestBody"]["content"]
    assert list(content) == ["application/json", "multipart/form-data"]
    assert content["application/json"]["example"] == example
    assert "files" not in content["application/json"]["schema"]["properties"]
    assert content["application/json"]["schema"]["title"] == "RecommendRequest"
    assert content["multipart/form-data"]["schema"]["title"] == "RecommendForm"
    schemas = spec["components"]["schemas"]
    assert (
        "files" not in schemas["RecommendRequest"]["properties"]
        and "files" in schemas["RecommendForm"]["properties"]
    )
    assert schemas["RecommendRequest"]["example"] == example
    # every answer and the schemas inside it carry an example; nothing is left open without one
    ok = spec["paths"]["/recommend"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["example"] == ANSWERS["/recommend"] and ok["schema"]["title"] == "Recommendation"
    assert schemas["RankedTrack"]["example"] == ANSWERS["/recommend"]["tracks"][0]
    assert schemas["Error"]["example"]["type"]
    assert open_without_example(spec) == []
    assert not re.search(r"additionalProp\d", text)
    hrv = spec["paths"]["/analyze_hrv"]["post"]["requestBody"]["content"]
    assert list(hrv["application/json"]["schema"]["properties"]) == ["metrics"]  # no file field in JSON
    # the form's map field (metrics) has an example of its own too
    form = spec["paths"]["/analyze_hrv"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]["metrics"]["example"]) == {
        "MEAN_RR",
        "SDRR",
        "HR",
        "RMSSD",
        "pNN50",
        "VLF",
        "LF",
        "HF",
    }


def test_live_answers_replace_the_stored_ones():
    live = {**ANSWERS["/recommend"], "recommendation_id": "0" * 32}
    spec = contract(_bentoml_like(), version="9.9", answers={"/recommend": live})
    ok = spec["paths"]["/recommend"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["example"]["recommendation_id"] == "0" * 32


def test_the_stored_answers_are_their_endpoints_answer_models():
    """What the docs page shows where no live answer is is what the endpoint answers: each stored
    answer validates against its response model (which refuses an unlisted field)."""
    from moodtune.serving.engine import Engine
    from moodtune.serving.requests import endpoint_requests

    answered = {f"/{name}": Engine.answer_for(request) for name, request in endpoint_requests().items()}
    assert set(ANSWERS) == set(answered)
    for path, answer in ANSWERS.items():
        answered[path].model_validate(answer)
