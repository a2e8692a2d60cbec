/** Pins which gauge of an inference server's Prometheus page counts its waiting requests, as each server names it. */
import { waitingFromMetrics } from '../../../upstream/server-queue';

describe('waitingFromMetrics', () => {
  it("reads vLLM's num_requests_waiting, summed over its engines and models", () => {
    const page = [
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-0.6B"} 3.0',
      'vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-0.6B"} 2.0',
      'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-0.6B"} 64.0',
      'vllm:num_requests_waiting_by_reason{reason="capacity"} 9.0',
    ].join('\n');
    expect(waitingFromMetrics(page)).toBe(5);
  });

  it("reads SGLang's num_queue_reqs and llama.cpp's requests_deferred", () => {
    expect(
      waitingFromMetrics('sglang:num_running_reqs{model_name="m"} 10\nsglang:num_queue_reqs{model_name="m"} 7\n'),
    ).toBe(7);
    expect(waitingFromMetrics('llamacpp:requests_processing 4\nllamacpp:requests_deferred 12\n')).toBe(12);
  });

  it('takes labels with spaces and a timestamp after the value', () => {
    expect(waitingFromMetrics('vllm:num_requests_waiting{model_name="my model {v2}"} 4 1700000000000')).toBe(4);
  });

  it('answers null for a page without any of the gauges (the limit then follows latency alone)', () => {
    expect(waitingFromMetrics('# HELP process_cpu_seconds_total\nprocess_cpu_seconds_total 12.5\n')).toBeNull();
    expect(waitingFromMetrics('')).toBeNull();
  });
});
