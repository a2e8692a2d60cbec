/**
 * Pins the Responses ↔ Chat Completions translation for upstreams without `/v1/responses`: what of a
 * Responses body is translated, ignored or refused, and how a chat completion becomes a Response object
 * (output items, status, usage, the request's settings echoed).
 */
import { chatToResponse, UnreadableChatError } from '../../../upstream/response-from-chat';
import { responsesToChat, UntranslatableError } from '../../../upstream/responses-via-chat';

const refusal = (fn: () => unknown): UntranslatableError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof UntranslatableError) return err;
    throw err;
  }
  throw new Error('not refused');
};

describe('responsesToChat', () => {
  it('turns a string input and instructions into a system and a user message', () => {
    expect(
      responsesToChat({
        model: 'm',
        instructions: 'Be brief.',
        input: 'Hello',
        max_output_tokens: 16,
        temperature: 0,
        top_p: 0.9,
        top_k: 40,
        store: true,
        metadata: { a: 'b' },
        reasoning: { effort: 'low' },
        stream: false,
        background: false,
        previous_response_id: null,
      }),
    ).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      max_tokens: 16,
      temperature: 0,
      top_p: 0.9,
      // Unknown to the Responses API: passed on, as a server's own sampling option.
      top_k: 40,
    });
  });

  it('turns input items into messages: roles, parts, images, function calls and their outputs', () => {
    const chat = responsesToChat({
      model: 'm',
      input: [
        { role: 'developer', content: 'Use tools.' },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is in this picture, and the weather?' },
            { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
          ],
        },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Let me look.', annotations: [] }],
        },
        { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call', call_id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'rain' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'sun' }] },
      ],
    });
    expect(chat.messages).toEqual([
      { role: 'system', content: 'Use tools.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture, and the weather?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
        ],
      },
      // The reasoning item is dropped; the calls join the assistant's turn.
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'rain' },
      { role: 'tool', tool_call_id: 'call_2', content: 'sun' },
    ]);
  });

  it('translates function tools, tool_choice and text formats', () => {
    const parameters = { type: 'object', properties: { city: { type: 'string' } } };
    const chat = responsesToChat({
      model: 'm',
      input: 'x',
      tools: [{ type: 'function', name: 'weather', description: 'Weather', parameters, strict: true }],
      tool_choice: { type: 'function', name: 'weather' },
      parallel_tool_calls: false,
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
    });
    expect(chat).toMatchObject({
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
    });
    expect(responsesToChat({ model: 'm', input: 'x', tool_choice: 'required' }).tool_choice).toBe('required');
    expect(responsesToChat({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } })).toMatchObject({
      response_format: { type: 'json_object' },
    });
    expect(responsesToChat({ model: 'm', input: 'x', text: { format: { type: 'text' } } })).not.toHaveProperty(
      'response_format',
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['previous_response_id', { previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['a stored prompt', { prompt: { id: 'pmpt_1' } }, 'prompt'],
    ['top_logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['a built-in tool', { tools: [{ type: 'web_search' }] }, 'tools[0]'],
    ['a tool_choice of a built-in tool', { tool_choice: { type: 'file_search' } }, 'tool_choice'],
    ['an item reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type'],
    ['a built-in tool call', { input: [{ type: 'web_search_call', id: 'ws_1' }] }, 'input[0].type'],
    [
      'a file part',
      { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] },
      'input[0].content[0].type',
    ],
    [
      'an image by file id',
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] },
      'input[0].content[0].file_id',
    ],
  ])('refuses %s', (_name, extra, param) => {
    expect(refusal(() => responsesToChat({ model: 'm', input: 'x', ...extra })).param).toBe(param);
  });
});

describe('chatToResponse', () => {
  const chat = (message: Record<string, unknown>, finish = 'stop', usage: unknown = undefined) => ({
    id: 'chatcmpl-abc',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'served-model',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    ...(usage === undefined ? {} : { usage }),
  });

  it('makes the answer an output_text of one assistant message, with usage renamed', () => {
    const response = chatToResponse(
      chat({ content: 'Hello there.' }, 'stop', {
        prompt_tokens: 12,
        completion_tokens: 3,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 1 },
      }),
      { model: 'm', input: 'Hi', instructions: 'Be brief.', max_output_tokens: 8, metadata: { k: 'v' } },
    );
    expect(response).toEqual({
      id: 'resp_abc',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      completed_at: 1_700_000_000,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: 8,
      metadata: { k: 'v' },
      model: 'served-model',
      output: [
        {
          type: 'message',
          id: 'msg_abc',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello there.', annotations: [], logprobs: [] }],
        },
      ],
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: false,
      temperature: null,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: null,
      truncation: 'disabled',
      usage: {
        input_tokens: 12,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 3,
        output_tokens_details: { reasoning_tokens: 1 },
        total_tokens: 15,
      },
    });
  });

  it('makes reasoning text a reasoning item and tool calls function_call items', () => {
    const response = chatToResponse(
      chat(
        {
          content: null,
          reasoning_content: 'The user wants the weather.',
          tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }],
        },
        'tool_calls',
      ),
      { model: 'm', input: 'x', tools: [{ type: 'function', name: 'weather' }] },
    );
    expect(response.output).toEqual([
      {
        type: 'reasoning',
        id: 'rs_abc',
        summary: [],
        content: [{ type: 'reasoning_text', text: 'The user wants the weather.' }],
      },
      {
        type: 'function_call',
        id: 'fc_abc_0',
        call_id: 'call_9',
        name: 'weather',
        arguments: '{"city":"Oslo"}',
        status: 'completed',
      },
    ]);
    expect(response.tools).toEqual([{ type: 'function', name: 'weather' }]);
    expect(response).not.toHaveProperty('usage');
  });

  it('makes a completion cut by max_tokens an incomplete response', () => {
    const response = chatToResponse(chat({ content: 'Once upon' }, 'length'), { model: 'm', input: 'x' });
    expect(response).toMatchObject({
      status: 'incomplete',
      completed_at: null,
      incomplete_details: { reason: 'max_output_tokens' },
      output: [{ type: 'message', status: 'incomplete' }],
    });
  });

  it('keeps an empty answer as an empty output_text, but not beside tool calls', () => {
    expect(chatToResponse(chat({ content: '' }), { model: 'm', input: 'x' }).output).toEqual([
      {
        type: 'message',
        id: 'msg_abc',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: '', annotations: [], logprobs: [] }],
      },
    ]);
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } };
    const output = chatToResponse(chat({ content: '', tool_calls: [call] }, 'tool_calls'), { model: 'm' }).output;
    expect((output as { type: string }[]).map((o) => o.type)).toEqual(['function_call']);
  });

  it('refuses an answer that is not a chat completion', () => {
    expect(() => chatToResponse({ object: 'list', data: [] }, { model: 'm' })).toThrow(UnreadableChatError);
  });
});
