'use strict';
// The bodies and stream events of the LLM APIs fake_llm_server.js speaks, built
// from a call's plan. Nothing here does I/O.
//
// A plan is {api, n, id, created, model, responseModel, pieces, usage, includeUsage,
// inputs, base64}; its usage holds the call's token counts the way the semantic
// conventions count them (input includes cache_read and cache_creation, output
// includes reasoning), and each API's *Usage function turns them into what that
// provider reports. Each shape in kShapes has Body(plan), the JSON of a whole
// answer; Stream(plan), the events of a stream as {head, deltas, tail} (strings
// already framed as SSE or NDJSON), one delta per text piece; the finishReason it
// reports and the prefix of its ids.

// Which counts each API reports besides input and output.
const kApis = {
  'openai-chat': { family: 'openai', caches: true, reasons: true },
  'openai-responses': { family: 'openai', caches: true, reasons: true },
  'openai-completions': { family: 'openai' },
  'openai-embeddings': { family: 'openai', noOutput: true },
  'anthropic-messages': { family: 'anthropic', caches: true, writesCache: true },
  'gemini-generate': { family: 'gemini', caches: true, reasons: true },
  'ollama-chat': { family: 'ollama' },
  'ollama-generate': { family: 'ollama' },
};

// Distinct numbers for call n of a server (1, 2, ...), so a double count shows.
function PlanUsage(api, n) {
  const traits = kApis[api];
  return {
    input: 40 + 7 * n,
    output: traits.noOutput ? 0 : 12 + 3 * n,
    cache_read: traits.caches ? 8 + n : 0,
    cache_creation: traits.writesCache ? 3 + n : 0,
    reasoning: traits.reasons ? 2 + n : 0,
  };
}

function Pieces(count, n) {
  return Array.from({ length: count }, (_, i) => `${i ? ' ' : ''}answer${n}.${i + 1}`);
}

const Sse = (data) => `data: ${JSON.stringify(data)}\n\n`;
const NamedSse = (data) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
// Gemini ends its events with CRLF pairs.
const GeminiSse = (data) => `data: ${JSON.stringify(data)}\r\n\r\n`;
const NdJson = (data) => JSON.stringify(data) + '\n';

function Text(plan) {
  return plan.pieces.join('');
}

// ---- OpenAI Chat Completions ------------------------------------------------------

function OpenAiChatUsage(u) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cache_read, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning, audio_tokens: 0,
      accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
    },
  };
}

const openAiChat = {
  idPrefix: 'chatcmpl-',
  Body(plan) {
    return {
      id: plan.id, object: 'chat.completion', created: plan.created, model: plan.responseModel,
      choices: [{
        index: 0, logprobs: null, finish_reason: 'stop',
        message: { role: 'assistant', content: Text(plan), refusal: null, annotations: [] },
      }],
      usage: OpenAiChatUsage(plan.usage), service_tier: 'default', system_fingerprint: 'fp_fake',
    };
  },
  Stream(plan) {
    const chunk = (delta, finish) => Sse({
      id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.responseModel,
      system_fingerprint: 'fp_fake', service_tier: 'default',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(plan.includeUsage ? { usage: null } : {}),
    });
    const tail = [chunk({}, 'stop')];
    if (plan.includeUsage) {
      tail.push(Sse({
        id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.responseModel,
        system_fingerprint: 'fp_fake', service_tier: 'default', choices: [], usage: OpenAiChatUsage(plan.usage),
      }));
    }
    tail.push('data: [DONE]\n\n');
    return {
      head: [chunk({ role: 'assistant', content: '', refusal: null }, null)],
      deltas: plan.pieces.map((p) => chunk({ content: p }, null)),
      tail,
    };
  },
  finishReason: 'stop',
};

// ---- OpenAI legacy Completions ----------------------------------------------------

function OpenAiCompletionUsage(u) {
  return { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output };
}

const openAiCompletions = {
  idPrefix: 'cmpl-',
  Body(plan) {
    return {
      id: plan.id, object: 'text_completion', created: plan.created, model: plan.responseModel,
      choices: [{ text: Text(plan), index: 0, logprobs: null, finish_reason: 'stop' }],
      usage: OpenAiCompletionUsage(plan.usage),
    };
  },
  Stream(plan) {
    const chunk = (text, finish) => Sse({
      id: plan.id, object: 'text_completion', created: plan.created, model: plan.responseModel,
      choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    });
    const tail = [chunk('', 'stop')];
    if (plan.includeUsage) {
      tail.push(Sse({
        id: plan.id, object: 'text_completion', created: plan.created, model: plan.responseModel,
        choices: [], usage: OpenAiCompletionUsage(plan.usage),
      }));
    }
    tail.push('data: [DONE]\n\n');
    return { head: [], deltas: plan.pieces.map((p) => chunk(p, null)), tail };
  },
  finishReason: 'stop',
};

// ---- OpenAI Embeddings ------------------------------------------------------------

function Vector(seed) {
  return Array.from({ length: 8 }, (_, i) => ((seed * 31 + i * 7) % 100) / 100 - 0.5);
}

const openAiEmbeddings = {
  Body(plan) {
    return {
      object: 'list', model: plan.responseModel,
      data: plan.inputs.map((_, i) => {
        const vector = Vector(plan.n + i);
        const embedding = plan.base64
          ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
        return { object: 'embedding', index: i, embedding };
      }),
      usage: { prompt_tokens: plan.usage.input, total_tokens: plan.usage.input },
    };
  },
  finishReason: null,
};

// ---- OpenAI Responses -------------------------------------------------------------

function ResponsesObject(plan, status) {
  const done = status === 'completed';
  return {
    id: plan.id, object: 'response', created_at: plan.created, status, background: false,
    error: null, incomplete_details: null, instructions: null, max_output_tokens: null,
    model: plan.responseModel,
    output: done ? [MessageItem(plan, 'completed')] : [],
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null },
    service_tier: 'default', store: true, temperature: 1, text: { format: { type: 'text' } },
    tool_choice: 'auto', tools: [], top_p: 1, truncation: 'disabled',
    usage: done ? {
      input_tokens: plan.usage.input,
      input_tokens_details: { cached_tokens: plan.usage.cache_read },
      output_tokens: plan.usage.output,
      output_tokens_details: { reasoning_tokens: plan.usage.reasoning },
      total_tokens: plan.usage.input + plan.usage.output,
    } : null,
    user: null, metadata: {},
  };
}

function MessageItem(plan, status) {
  const content = status === 'completed'
    ? [{ type: 'output_text', text: Text(plan), annotations: [], logprobs: [] }] : [];
  return { id: `msg_${plan.id.slice(5)}`, type: 'message', status, role: 'assistant', content };
}

const openAiResponses = {
  idPrefix: 'resp_',
  Body(plan) {
    return ResponsesObject(plan, 'completed');
  },
  Stream(plan) {
    let sequence = 0;
    const event = (type, fields) => NamedSse({ type, sequence_number: sequence++, ...fields });
    const where = { item_id: MessageItem(plan, 'in_progress').id, output_index: 0, content_index: 0 };
    const part = (text) => ({ type: 'output_text', text, annotations: [] });
    const head = [
      event('response.created', { response: ResponsesObject(plan, 'in_progress') }),
      event('response.in_progress', { response: ResponsesObject(plan, 'in_progress') }),
      event('response.output_item.added', { output_index: 0, item: MessageItem(plan, 'in_progress') }),
      event('response.content_part.added', { ...where, part: part('') }),
    ];
    const deltas = plan.pieces.map((delta) => event('response.output_text.delta',
      { ...where, delta, logprobs: [] }));
    const tail = [
      event('response.output_text.done', { ...where, text: Text(plan), logprobs: [] }),
      event('response.content_part.done', { ...where, part: part(Text(plan)) }),
      event('response.output_item.done', { output_index: 0, item: MessageItem(plan, 'completed') }),
      event('response.completed', { response: ResponsesObject(plan, 'completed') }),
    ];
    return { head, deltas, tail };
  },
  finishReason: 'completed',
};

// ---- Anthropic Messages -----------------------------------------------------------

function AnthropicUsage(u, outputTokens) {
  return {
    input_tokens: u.input - u.cache_read - u.cache_creation,
    cache_creation_input_tokens: u.cache_creation,
    cache_read_input_tokens: u.cache_read,
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

const anthropicMessages = {
  idPrefix: 'msg_',
  Body(plan) {
    return {
      id: plan.id, type: 'message', role: 'assistant', model: plan.responseModel,
      content: [{ type: 'text', text: Text(plan) }], stop_reason: 'end_turn', stop_sequence: null,
      usage: AnthropicUsage(plan.usage, plan.usage.output),
    };
  },
  Stream(plan) {
    const head = [
      NamedSse({
        type: 'message_start',
        message: {
          id: plan.id, type: 'message', role: 'assistant', model: plan.responseModel, content: [],
          stop_reason: null, stop_sequence: null, usage: AnthropicUsage(plan.usage, 1),
        },
      }),
      NamedSse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      NamedSse({ type: 'ping' }),
    ];
    const deltas = plan.pieces.map((text) => NamedSse({
      type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text },
    }));
    const tail = [
      NamedSse({ type: 'content_block_stop', index: 0 }),
      NamedSse({
        type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: plan.usage.output },
      }),
      NamedSse({ type: 'message_stop' }),
    ];
    return { head, deltas, tail };
  },
  finishReason: 'end_turn',
};

// ---- Gemini generateContent -------------------------------------------------------

function GeminiUsage(u) {
  return {
    promptTokenCount: u.input,
    candidatesTokenCount: u.output - u.reasoning,
    thoughtsTokenCount: u.reasoning,
    cachedContentTokenCount: u.cache_read,
    totalTokenCount: u.input + u.output,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.input }],
  };
}

function GeminiResponse(plan, text, finish, usageMetadata) {
  const candidate = { content: { parts: [{ text }], role: 'model' }, index: 0 };
  if (finish) candidate.finishReason = finish;
  return { candidates: [candidate], usageMetadata, modelVersion: plan.responseModel, responseId: plan.id };
}

const geminiGenerate = {
  idPrefix: 'gemini-',
  Body(plan) {
    return GeminiResponse(plan, Text(plan), 'STOP', GeminiUsage(plan.usage));
  },
  // Like Gemini, every chunk carries the usage so far; the last one is the total.
  Stream(plan) {
    const last = plan.pieces.length - 1;
    const candidates = plan.usage.output - plan.usage.reasoning;
    const deltas = plan.pieces.map((text, i) => GeminiSse(i === last
      ? GeminiResponse(plan, text, 'STOP', GeminiUsage(plan.usage))
      : GeminiResponse(plan, text, null, {
        promptTokenCount: plan.usage.input,
        candidatesTokenCount: Math.floor((candidates * (i + 1)) / plan.pieces.length),
        totalTokenCount: plan.usage.input + Math.floor((candidates * (i + 1)) / plan.pieces.length),
      })));
    return { head: [], deltas, tail: [] };
  },
  finishReason: 'STOP',
};

// ---- Ollama -----------------------------------------------------------------------

function OllamaDone(plan) {
  return {
    done: true, done_reason: 'stop', total_duration: 123456789, load_duration: 1234567,
    prompt_eval_count: plan.usage.input, prompt_eval_duration: 2345678,
    eval_count: plan.usage.output, eval_duration: 98765432,
  };
}

function Ollama(field) {
  const message = (text) => (field === 'message'
    ? { message: { role: 'assistant', content: text } } : { response: text });
  const base = (plan) => ({ model: plan.responseModel, created_at: new Date(plan.created * 1000).toISOString() });
  return {
    Body(plan) {
      const extra = field === 'response' ? { context: [1, 2, 3] } : {};
      return { ...base(plan), ...message(Text(plan)), ...OllamaDone(plan), ...extra };
    },
    Stream(plan) {
      return {
        head: [],
        deltas: plan.pieces.map((text) => NdJson({ ...base(plan), ...message(text), done: false })),
        tail: [NdJson({ ...base(plan), ...message(''), ...OllamaDone(plan) })],
      };
    },
    finishReason: 'stop',
    ndjson: true,
  };
}

const kShapes = {
  'openai-chat': openAiChat,
  'openai-responses': openAiResponses,
  'openai-completions': openAiCompletions,
  'openai-embeddings': openAiEmbeddings,
  'anthropic-messages': anthropicMessages,
  'gemini-generate': geminiGenerate,
  'ollama-chat': Ollama('message'),
  'ollama-generate': Ollama('response'),
};

// ---- Errors -----------------------------------------------------------------------

// {status, contentType, body, type}: type is what the body says the error is
// (null when the body is bare text).
function ErrorReply(api, kind, requestId) {
  const bare = /^http([45]\d\d)$/.exec(kind);
  if (bare) {
    return { status: Number(bare[1]), contentType: 'text/plain', body: `fake error ${bare[1]}\n`, type: null };
  }
  const status = kind === 'overloaded' ? 529 : 429;
  const family = kApis[api].family;
  if (family === 'anthropic') {
    const type = kind === 'overloaded' ? 'overloaded_error' : 'rate_limit_error';
    const body = { type: 'error', error: { type, message: `fake ${kind}` }, request_id: requestId };
    return { status, contentType: 'application/json', body: JSON.stringify(body), type };
  }
  if (family === 'gemini') {
    const type = status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE';
    const body = { error: { code: status, message: `fake ${kind}`, status: type } };
    return { status, contentType: 'application/json', body: JSON.stringify(body), type };
  }
  if (family === 'ollama') {
    const body = { error: `fake ${kind}` };
    return { status, contentType: 'application/json', body: JSON.stringify(body), type: null };
  }
  const type = {
    ratelimit: 'rate_limit_exceeded', quota: 'insufficient_quota', overloaded: 'overloaded_error',
  }[kind];
  const body = { error: { message: `fake ${kind}`, type, param: null, code: type } };
  return { status, contentType: 'application/json', body: JSON.stringify(body), type };
}

module.exports = { kApis, kShapes, PlanUsage, Pieces, ErrorReply };
