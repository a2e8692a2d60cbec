"""The official Python `openai` client against the Batch API under test, and the helpers the suites share.

BATCH_API_BASE_URL points at the API (test/contract/python-sdk.contract.test.ts sets it), and
BATCH_MAX_EMBEDDING_INPUTS is the limit that stack was started with.
"""

import json
import os
import time

from openai import OpenAI

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



def run_batch(lines, endpoint):
    created = client.batches.create(input_file_id=upload(lines).id, endpoint=endpoint, completion_window="24h")
    assert created.endpoint == endpoint
    return wait(created.id)


def usage_sum(lines, key):
    return sum(line["response"]["body"]["usage"][key] for line in lines)
