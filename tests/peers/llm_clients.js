'use strict';
// Runs an official LLM SDK against a base URL, unmodified, for end-to-end tests.
//
//   node llm_clients.js SDK BASE_URL MODEL N [--stream] [--api-key KEY]
//        [--header NAME:VALUE]... [--max-tokens N] [--temperature T] [--top-p P]
//        [--allow-errors]
//
// The API key is --api-key, else $OPENAI_API_KEY, $ANTHROPIC_API_KEY or
// $GEMINI_API_KEY as the SDK would read it, else a dummy.
//
// SDK is openai-chat, openai-responses, openai-completions, openai-embeddings (the
// openai package, BASE_URL + /v1), anthropic (@anthropic-ai/sdk) or gemini
// (@google/genai, generateContent; with --stream generateContentStream). BASE_URL is
// the server's root, e.g. https://127.0.0.1:8443; for a self-signed certificate set
// NODE_TLS_REJECT_UNAUTHORIZED=0. N calls are made one after another, none retried.
// Each prints one JSON line with what the SDK returned:
//   {"sdk", "call", "ok": true, "id", "responseModel", "finishReasons", "events",
//    "usage": {"input", "output", "cache_read", "cache_creation", "reasoning"}}
// usage counted as the semantic conventions do (input includes cached and
// cache-creation tokens, output includes reasoning), or on failure
//   {"sdk", "call", "ok": false, "status", "errorType", "error"}
// and the exit status is 1 unless --allow-errors. Every request carries the header
// x-fake-client: $OTEL_SERVICE_NAME, which fake_llm_server.js records.

const { parseArgs } = require('node:util');

const kSystem = 'You are a terse test assistant.';

function Prompt(call) {
  return `Say something short, number ${call}.`;
}

function Usage(input, output, cacheRead, cacheCreation, reasoning) {
  return {
    input, output, cache_read: cacheRead || 0, cache_creation: cacheCreation || 0, reasoning: reasoning || 0,
  };
}

function OpenAiUsage(u) {
  if (!u) return null;
  if (u.input_tokens !== undefined) {  // Responses
    return Usage(u.input_tokens, u.output_tokens, u.input_tokens_details?.cached_tokens, 0,
      u.output_tokens_details?.reasoning_tokens);
  }
  return Usage(u.prompt_tokens, u.completion_tokens ?? 0, u.prompt_tokens_details?.cached_tokens, 0,
    u.completion_tokens_details?.reasoning_tokens);
}

function AnthropicUsage(u) {
  const cacheRead = u.cache_read_input_tokens || 0;
  const cacheCreation = u.cache_creation_input_tokens || 0;
  return Usage(u.input_tokens + cacheRead + cacheCreation, u.output_tokens, cacheRead, cacheCreation, 0);
}

function GeminiUsage(u) {
  if (!u) return null;
  const thoughts = u.thoughtsTokenCount || 0;
  const output = (u.candidatesTokenCount || 0) + thoughts;
  return Usage(u.promptTokenCount, output, u.cachedContentTokenCount, 0, thoughts);
}

function Sampling(options) {
  const sampling = {};
  if (options['temperature'] !== undefined) sampling.temperature = Number(options['temperature']);
  if (options['top-p'] !== undefined) sampling.top_p = Number(options['top-p']);
  return sampling;
}

// Every SDK is loaded only when used: a client starts faster.
const kClients = {
  openai: (base, options) => new (require('openai').OpenAI)({
    apiKey: options.apiKey, baseURL: `${base}/v1`, defaultHeaders: options.headers, maxRetries: 0, timeout: 30000,
  }),
  anthropic: (base, options) => new (require('@anthropic-ai/sdk').Anthropic)({
    apiKey: options.apiKey, baseURL: base, defaultHeaders: options.headers, maxRetries: 0, timeout: 30000,
  }),
  gemini: (base, options) => new (require('@google/genai').GoogleGenAI)({
    apiKey: options.apiKey, httpOptions: { baseUrl: base, headers: options.headers, timeout: 30000 },
  }),
};

// A Chat Completions or Completions answer, or the chunks of its stream.
async function ChoicesResult(answer, stream) {
  if (!stream) {
    return {
      id: answer.id, responseModel: answer.model, usage: OpenAiUsage(answer.usage), events: 0,
      finishReasons: answer.choices.map((c) => c.finish_reason),
    };
  }
  const result = { finishReasons: [], events: 0, usage: null };
  for await (const chunk of answer) {
    result.events++;
    Object.assign(result, { id: chunk.id, responseModel: chunk.model });
    for (const choice of chunk.choices) if (choice.finish_reason) result.finishReasons.push(choice.finish_reason);
    if (chunk.usage) result.usage = OpenAiUsage(chunk.usage);
  }
  return result;
}

function StreamOptions(options) {
  return options.stream ? { stream: true, stream_options: { include_usage: true } } : {};
}

// Each runner makes one call and returns {id, responseModel, finishReasons, usage, events}.
const kRunners = {
  async 'openai-chat'(client, model, call, options) {
    const messages = [{ role: 'system', content: kSystem }, { role: 'user', content: Prompt(call) }];
    const request = { model, messages, ...Sampling(options), ...StreamOptions(options) };
    if (options['max-tokens']) request.max_tokens = Number(options['max-tokens']);
    return ChoicesResult(await client.chat.completions.create(request), options.stream);
  },

  async 'openai-completions'(client, model, call, options) {
    const request = {
      model, prompt: Prompt(call), max_tokens: Number(options['max-tokens'] || 64),
      ...Sampling(options), ...StreamOptions(options),
    };
    return ChoicesResult(await client.completions.create(request), options.stream);
  },

  async 'openai-responses'(client, model, call, options) {
    const request = { model, instructions: kSystem, input: Prompt(call), ...Sampling(options) };
    if (options['max-tokens']) request.max_output_tokens = Number(options['max-tokens']);
    const summary = (r, events) => ({
      id: r.id, responseModel: r.model, finishReasons: [r.status], usage: OpenAiUsage(r.usage), events,
    });
    if (!options.stream) return summary(await client.responses.create(request), 0);
    let events = 0;
    let completed = null;
    for await (const event of await client.responses.create({ ...request, stream: true })) {
      events++;
      if (event.type === 'response.completed') completed = event.response;
    }
    if (!completed) throw new Error('the stream ended without response.completed');
    return summary(completed, events);
  },

  async 'openai-embeddings'(client, model, call) {
    const r = await client.embeddings.create({ model, input: [Prompt(call), `and another ${call}`] });
    const vector = (d) => d.embedding.length === 8 && d.embedding.every((x) => Number.isFinite(x));
    if (r.data.length !== 2 || !r.data.every(vector)) {
      throw new Error(`embeddings came back as ${JSON.stringify(r.data)}, not two vectors of 8 numbers`);
    }
    return { id: null, responseModel: r.model, finishReasons: [], usage: OpenAiUsage(r.usage), events: 0 };
  },

  async anthropic(client, model, call, options) {
    const request = {
      model, system: kSystem, max_tokens: Number(options['max-tokens'] || 64),
      messages: [{ role: 'user', content: Prompt(call) }], ...Sampling(options),
    };
    let events = 0;
    let message;
    if (options.stream) {
      const stream = client.messages.stream(request);
      stream.on('streamEvent', () => { events++; });
      message = await stream.finalMessage();
    } else {
      message = await client.messages.create(request);
    }
    return {
      id: message.id, responseModel: message.model, finishReasons: [message.stop_reason],
      usage: AnthropicUsage(message.usage), events,
    };
  },

  async gemini(client, model, call, options) {
    const config = { systemInstruction: kSystem };
    if (options['max-tokens']) config.maxOutputTokens = Number(options['max-tokens']);
    if (options['temperature'] !== undefined) config.temperature = Number(options['temperature']);
    if (options['top-p'] !== undefined) config.topP = Number(options['top-p']);
    const request = { model, contents: Prompt(call), config };
    const summary = (r, events) => ({
      id: r.responseId, responseModel: r.modelVersion, events, usage: GeminiUsage(r.usageMetadata),
      finishReasons: (r.candidates || []).map((c) => c.finishReason).filter(Boolean),
    });
    if (!options.stream) return summary(await client.models.generateContent(request), 0);
    let events = 0;
    let last = null;
    for await (const chunk of await client.models.generateContentStream(request)) {
      events++;
      last = chunk;
    }
    return summary(last, events);
  },
};

// Without --api-key, the key comes from the SDK's usual environment variable (so it is
// not on the command line), else a dummy.
const kKeyVariables = { anthropic: 'ANTHROPIC_API_KEY', gemini: 'GEMINI_API_KEY' };

function ErrorLine(err) {
  const status = typeof err.status === 'number' ? err.status : null;
  // openai: err.type / err.code; anthropic: err.error.error.type; genai: the JSON in err.message.
  let errorType = [err.type, err.code, err.error?.error?.type].find((t) => typeof t === 'string') || null;
  const googleStatus = /"status":\s*"([A-Z_]+)"/.exec(err.message || '');
  if (!errorType && googleStatus) errorType = googleStatus[1];
  return { status, errorType, error: String(err.message || err).slice(0, 300) };
}

function ParseCommandLine(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stream: { type: 'boolean', default: false },
      'api-key': { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'allow-errors': { type: 'boolean', default: false },
    },
  });
  const [sdk, base, model, count] = positionals;
  if (positionals.length !== 4 || !kRunners[sdk] || !(Number(count) >= 1)) {
    const sdks = Object.keys(kRunners).join(', ');
    throw new Error(`usage: llm_clients.js SDK BASE_URL MODEL N [options]; SDK is one of ${sdks}`);
  }
  const headers = { 'x-fake-client': process.env.OTEL_SERVICE_NAME || 'llm_clients' };
  for (const header of values.header) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new Error(`--header wants NAME:VALUE, got "${header}"`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const apiKey = values['api-key'] || process.env[kKeyVariables[sdk] || 'OPENAI_API_KEY'] || 'sk-test-dummy-0000';
  const options = { ...values, headers, apiKey };
  return { sdk, base: base.replace(/\/+$/, ''), model, count: Number(count), options };
}

async function Main() {
  const { sdk, base, model, count, options } = ParseCommandLine(process.argv.slice(2));
  const client = kClients[sdk.split('-')[0]](base, options);
  let failed = 0;
  for (let call = 1; call <= count; call++) {
    let line;
    try {
      line = { sdk, call, ok: true, ...await kRunners[sdk](client, model, call, options) };
    } catch (err) {
      failed++;
      line = { sdk, call, ok: false, ...ErrorLine(err) };
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  process.exitCode = failed && !options['allow-errors'] ? 1 : 0;
}

// Only a bad command line throws this far: each call's failure is a line of output.
Main().catch((err) => {
  process.stderr.write(`llm_clients: ${err.message}\n`);
  process.exit(2);
});
