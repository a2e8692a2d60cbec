"""Pins the Files and Batches APIs as the official Python `openai` client uses them.

Run by test/contract/python-sdk.contract.test.ts against a real API, worker and Temporal dev server;
BATCH_API_BASE_URL points at it.
"""

import json
import os
import time

import pytest
from openai import BadRequestError, ConflictError, NotFoundError, OpenAI

client = OpenAI(base_url=os.environ["BATCH_API_BASE_URL"], api_key="unused", max_retries=0)
# The stack's BATCH_MAX_EMBEDDING_INPUTS.
MAX_EMBEDDING_INPUTS = int(os.environ["BATCH_MAX_EMBEDDING_INPUTS"])
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def request_line(custom_id, endpoint="/v1/chat/completions", **extra):
    text = f"hello from {custom_id}"
    if endpoint == "/v1/chat/completions":
        body = {"model": "fixture-model", "messages": [{"role": "user", "content": text}]}
    elif endpoint == "/v1/completions":
        body = {"model": "fixture-model", "prompt": text}
    else:
        body = {"model": "fixture-model", "input": text}
    body.update(extra)
    return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}


def upload(lines, name="input.jsonl", purpose="batch"):
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return client.files.create(file=(name, text.encode()), purpose=purpose)


def wait(batch_id, timeout=60):
    deadline = time.time() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in TERMINAL:
            return batch
        assert time.time() < deadline, f"{batch_id} still {batch.status}"
        time.sleep(0.1)


def jsonl(file_id):
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line]


def test_file_round_trip():
    file = upload([request_line("f-1")], name="requests.jsonl")
    assert file.object == "file"
    assert file.purpose == "batch"
    assert file.status == "processed"
    assert file.filename == "requests.jsonl"
    assert file.expires_at == file.created_at + 30 * 24 * 3600
    assert client.files.retrieve(file.id) == file
    assert file.id in [f.id for f in client.files.list(purpose="batch")]
    content = client.files.content(file.id)
    assert json.loads(content.text) == request_line("f-1")
    assert content.response.headers["content-type"] == "application/octet-stream"
    deleted = client.files.delete(file.id)
    assert deleted.deleted is True and deleted.id == file.id
    with pytest.raises(NotFoundError):
        client.files.retrieve(file.id)


def test_file_expires_after():
    file = client.files.create(
        file=("notes.txt", b"x"), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 7200}
    )
    assert file.expires_at == file.created_at + 7200


def test_file_list_pages_with_after():
    ids = [upload([request_line(f"p-{i}")]).id for i in range(3)]
    first = client.files.list(order="asc", limit=2)
    assert len(first.data) == 2 and first.has_more is True
    seen = [f.id for f in client.files.list(order="asc", limit=2)]
    assert seen[-3:] == ids
    assert len(seen) == len(set(seen))


def test_non_jsonl_batch_file_is_refused():
    with pytest.raises(BadRequestError) as e:
        client.files.create(file=("requests.csv", b"{}"), purpose="batch")
    assert e.value.body["message"] == "Invalid file format for Batch API. Must be .jsonl"
    assert e.value.request_id.startswith("req_")


def test_chat_batch_end_to_end():
    lines = [request_line(f"c-{i}") for i in range(20)] + [request_line("bad", fixture={"status": 400})]
    file = upload(lines)
    created = client.batches.create(
        input_file_id=file.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"suite": "python"},
    )
    assert created.status == "validating"
    assert created.metadata == {"suite": "python"}
    batch = wait(created.id)
    assert batch.status == "completed"
    assert batch.request_counts.total == 21
    assert batch.request_counts.completed == 20
    assert batch.request_counts.failed == 1
    assert batch.usage.input_tokens > 0 and batch.usage.output_tokens > 0
    assert batch.usage.input_tokens_details.cached_tokens == 0
    assert batch.model == "fixture-model"
    output = jsonl(batch.output_file_id)
    errors = jsonl(batch.error_file_id)
    assert sorted(o["custom_id"] for o in output + errors) == sorted(line["custom_id"] for line in lines)
    by_id = {o["custom_id"]: o for o in output}
    assert by_id["c-3"]["response"]["body"]["choices"][0]["message"]["content"] == "echo: hello from c-3"
    assert errors[0]["custom_id"] == "bad"
    assert errors[0]["error"] is None
    assert errors[0]["response"]["status_code"] == 400


def test_completions_batch():
    file = upload([request_line(f"k-{i}", "/v1/completions") for i in range(5)])
    batch = wait(
        client.batches.create(input_file_id=file.id, endpoint="/v1/completions", completion_window="24h").id
    )
    assert batch.status == "completed"
    assert batch.error_file_id is None
    assert {o["response"]["body"]["object"] for o in jsonl(batch.output_file_id)} == {"text_completion"}


def test_all_failed_batch_is_completed_without_output_file():
    file = upload([request_line(f"z-{i}", fixture={"status": 422}) for i in range(3)])
    batch = wait(
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h").id
    )
    assert batch.status == "completed"
    assert batch.output_file_id is None
    assert batch.request_counts.failed == 3
    assert len(jsonl(batch.error_file_id)) == 3


def test_validation_failure():
    file = upload(["{oops", json.dumps(request_line("ok"))])
    batch = wait(
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h").id
    )
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors.data[0].code == "invalid_json_line"
    assert batch.errors.data[0].line == 1


def test_list_batches_newest_first():
    file = upload([request_line("l-1")])
    ids = [
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h").id
        for _ in range(3)
    ]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == [ids[2], ids[1]]
    assert page.has_more is True
    assert [b.id for b in client.batches.list(limit=2)][:3] == list(reversed(ids))
    for batch_id in ids:
        wait(batch_id)


def test_create_errors():
    file = upload([request_line("e-1")])
    with pytest.raises(BadRequestError) as e:
        client.batches.create(input_file_id=file.id, endpoint="/v1/invalid", completion_window="24h")
    assert e.value.code == "invalid_value" and e.value.param == "endpoint"
    with pytest.raises(BadRequestError) as e:
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="48h")
    assert e.value.param == "completion_window"
    with pytest.raises(BadRequestError) as e:
        client.batches.create(
            input_file_id=file.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"k": "x" * 513},
        )
    assert e.value.code == "string_above_max_length" and e.value.param == "metadata.k"
    with pytest.raises(BadRequestError) as e:
        client.batches.create(
            input_file_id=file.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            extra_body={"webhook_url": "http://example.com/hook"},
        )
    assert e.value.param == "webhook_url"


def test_cancel():
    with pytest.raises(NotFoundError):
        client.batches.cancel("batch_does_not_exist")
    file = upload([request_line("x-1")])
    batch = wait(
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h").id
    )
    with pytest.raises(ConflictError) as e:
        client.batches.cancel(batch.id)
    assert e.value.response.headers["x-should-retry"] == "false"
    assert e.value.body["message"] == "Cannot cancel a batch with status 'completed'."


def run_batch(lines, endpoint):
    created = client.batches.create(input_file_id=upload(lines).id, endpoint=endpoint, completion_window="24h")
    assert created.endpoint == endpoint
    return wait(created.id)


def usage_sum(lines, key):
    return sum(line["response"]["body"]["usage"][key] for line in lines)


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
