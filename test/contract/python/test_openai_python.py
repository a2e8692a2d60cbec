"""Pins the Files and Batches APIs as the official Python `openai` client uses them.

Run by test/contract/python-sdk.contract.test.ts against a real API, worker and Temporal dev server;
BATCH_API_BASE_URL points at it.
"""

import json

import pytest
from openai import BadRequestError, ConflictError, NotFoundError

from batch_api import client, jsonl, request_line, upload, wait

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
