"""Pins embeddings, responses and moderations batches as the official Python `openai` client uses them:
create, complete, download, the usage sums, the Batch's model, and every validation case of the three.

Run by test/contract/python-sdk.contract.test.ts against a real API, worker and Temporal dev server.
"""

import pytest

from batch_api import MAX_EMBEDDING_INPUTS, jsonl, request_line, run_batch, usage_sum


def test_embeddings_batch():
    lines = [
        request_line("e-1", "/v1/embeddings"),
        request_line("e-2", "/v1/embeddings", input=["one two", "three"]),
        request_line("e-3", "/v1/embeddings", input=[1, 2, 3, 4]),
        request_line("e-4", "/v1/embeddings", input=[[1, 2], [3]], dimensions=4),
    ]
    batch = run_batch(lines, "/v1/embeddings")
    assert batch.status == "completed"
    assert batch.model == "fixture-model"
    assert batch.request_counts.completed == 4 and batch.error_file_id is None
    output = {line["custom_id"]: line for line in jsonl(batch.output_file_id)}
    assert len(output["e-2"]["response"]["body"]["data"]) == 2
    assert len(output["e-4"]["response"]["body"]["data"][1]["embedding"]) == 4
    # Words are the fixture's tokens: 3 + 3 + 4 token ids + 3 token ids; embeddings have no output tokens.
    assert batch.usage.input_tokens == 13 == usage_sum(output.values(), "prompt_tokens")
    assert batch.usage.output_tokens == 0
    assert batch.usage.total_tokens == 13


def test_responses_batch():
    lines = [
        request_line("r-1", "/v1/responses"),
        request_line("r-2", "/v1/responses", instructions="Answer briefly.", max_output_tokens=16),
    ]
    batch = run_batch(lines, "/v1/responses")
    assert batch.status == "completed" and batch.model == "fixture-model"
    output = jsonl(batch.output_file_id)
    assert {line["response"]["body"]["object"] for line in output} == {"response"}
    assert batch.usage.input_tokens == usage_sum(output, "input_tokens") == 3 + 5
    assert batch.usage.output_tokens == usage_sum(output, "output_tokens") == 4 + 4
    assert batch.usage.total_tokens == usage_sum(output, "total_tokens")


def test_moderations_batch():
    lines = [
        {"custom_id": "m-1", "method": "POST", "url": "/v1/moderations", "body": {"input": "a text"}},
        request_line("m-2", "/v1/moderations", model="omni-moderation-2024-09-26", input=["one", "two"]),
    ]
    batch = run_batch(lines, "/v1/moderations")
    assert batch.status == "completed"
    # The first line names no model: OpenAI's default moderation model.
    assert batch.model == "omni-moderation-latest"
    assert batch.usage.input_tokens == 0 and batch.usage.output_tokens == 0 and batch.usage.total_tokens == 0
    output = {line["custom_id"]: line for line in jsonl(batch.output_file_id)}
    assert len(output["m-2"]["response"]["body"]["results"]) == 2


EMBEDDING_INPUT = "a string, an array of strings, an array of token ids or an array of token-id arrays"
EMPTY_ARRAY = "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead."


@pytest.mark.parametrize(
    "endpoint,body,code,param,message",
    [
        ("/v1/embeddings", {"input": "x"}, "invalid_request", "body.model", "Model parameter is required."),
        ("/v1/embeddings", {"model": "m"}, "invalid_request", "body.input", "Input parameter is required."),
        (
            "/v1/embeddings",
            {"model": "m", "input": ""},
            "invalid_request",
            "body.input",
            "Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        ),
        ("/v1/embeddings", {"model": "m", "input": []}, "invalid_request", "body.input", EMPTY_ARRAY),
        (
            "/v1/embeddings",
            {"model": "m", "input": {"text": "x"}},
            "invalid_request",
            "body.input",
            f"Invalid type for 'input': expected {EMBEDDING_INPUT}, but got an object instead.",
        ),
        (
            "/v1/embeddings",
            {"model": "m", "input": ["a", 1]},
            "invalid_request",
            "body.input",
            "Invalid type for 'input[1]': expected a string, as every item of the array, but got an integer instead.",
        ),
        (
            "/v1/embeddings",
            {"model": "m", "input": "x", "stream": True},
            "streaming_unsupported",
            "body.stream",
            "Embeddings: Streaming is not supported in the Batch API.",
        ),
        ("/v1/responses", {"input": "x"}, "invalid_request", "body.model", "Model parameter is required."),
        ("/v1/responses", {"model": "m"}, "invalid_request", "body.input", "Input parameter is required."),
        (
            "/v1/responses",
            {"model": "m", "input": 42},
            "invalid_request",
            "body.input",
            "Invalid type for 'input': expected a string or an array of input items, but got an integer instead.",
        ),
        (
            "/v1/responses",
            {"model": "m", "input": "x", "stream": True},
            "streaming_unsupported",
            "body.stream",
            "Responses: Streaming is not supported in the Batch API.",
        ),
        (
            "/v1/responses",
            {"model": "m", "input": "x", "background": True},
            "invalid_request",
            "body.background",
            "Responses: Background mode is not supported in the Batch API.",
        ),
        ("/v1/moderations", {}, "invalid_request", "body.input", "Input parameter is required."),
        ("/v1/moderations", {"input": []}, "invalid_request", "body.input", EMPTY_ARRAY),
        (
            "/v1/moderations",
            {"input": 42},
            "invalid_request",
            "body.input",
            "Invalid type for 'input': expected a string, an array of strings or an array of multi-modal inputs, "
            "but got an integer instead.",
        ),
        (
            "/v1/moderations",
            {"input": "x", "stream": True},
            "streaming_unsupported",
            "body.stream",
            "Moderations: Streaming is not supported in the Batch API.",
        ),
        ("/v1/moderations", {"model": 7, "input": "x"}, "invalid_request", "body.model", "Model parameter is required."),
    ],
)
def test_endpoint_validation(endpoint, body, code, param, message):
    bad = {"custom_id": "bad", "method": "POST", "url": endpoint, "body": body}
    batch = run_batch([request_line("good", endpoint), bad], endpoint)
    assert batch.status == "failed"
    assert [(e.code, e.param, e.line, e.message) for e in batch.errors.data] == [(code, param, 2, message)]


def test_mixed_urls_fail_on_the_line_that_differs():
    lines = [request_line("u-1", "/v1/responses"), request_line("u-2", "/v1/chat/completions")]
    batch = run_batch(lines, "/v1/responses")
    assert batch.status == "failed"
    assert [(e.code, e.param, e.line) for e in batch.errors.data] == [("invalid_url", "url", 2)]


def test_embedding_inputs_are_limited_across_lines():
    half = MAX_EMBEDDING_INPUTS // 2 + 1
    lines = [request_line(f"l-{i}", "/v1/embeddings", input=[[7]] * half) for i in range(3)]
    batch = run_batch(lines, "/v1/embeddings")
    assert batch.status == "failed"
    assert [(e.code, e.param, e.line) for e in batch.errors.data] == [("too_many_inputs", "body.input", 2)]
