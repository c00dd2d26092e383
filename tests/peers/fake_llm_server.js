'use strict';
// A fake LLM provider for end-to-end tests, with known token counts.
//
//   node fake_llm_server.js --port 0 [--tls CERT KEY]
//
// Listens on 127.0.0.1 (HTTPS with --tls) and prints {"port": N} as its first line on
// stdout. It answers, in each provider's own shapes (fake_llm_shapes.js):
//   POST /v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings  OpenAI
//   POST /v1/messages                                                          Anthropic
//   POST /v1beta/models/{model}:generateContent, :streamGenerateContent        Gemini
//   POST /api/chat, /api/generate (NDJSON stream unless "stream": false)       Ollama
// and GET /_calls[?client=TAG]: every call answered, as a JSON list of
//   {seq, client, acceptEncoding, api, path, model, responseModel, stream, status, encoding, errorType,
//    cut, delivered, id, finishReason, usage, chunks, firstChunkMs, lastChunkMs}
// where id is the response's id (null for an error answer or an API without ids),
// errorType the type the error body names (null for a bare status) and
// usage is {input, output, cache_read, cache_creation, reasoning} counted as the
// semantic conventions do (input includes both cache counts, output includes
// reasoning), all zero unless the whole answer was sent. client is the request's
// x-fake-client header (llm_clients.js sends its OTEL_SERVICE_NAME).
//
// Controls, as words of the model name (split at - _ . : /) or as headers:
//   gzip deflate br zstd | x-fake-encoding: E   Content-Encoding E, whatever the client
//                                               asked; streams are flushed per chunk
//                                               (zstd: one frame per chunk)
//   accept               | x-fake-encoding: accept  the client's first Accept-Encoding
//                                               that the server can make
//   slow                 | x-fake-slow: 1       a stream's first chunk 300 ms after the
//                                               request, then 20 chunks in all, 50 ms
//                                               apart; a non-stream answer waits 300 ms
//   ratelimit | quota    | x-fake-error: K      429 with the API's own error body:
//                                               OpenAI {"error": {"type": "rate_limit_exceeded"
//                                               or "insufficient_quota"}}, Anthropic
//                                               {"type": "error", "error": {"type":
//                                               "rate_limit_error"}}, Gemini {"error":
//                                               {"status": "RESOURCE_EXHAUSTED"}}, Ollama
//                                               {"error": "..."} (no type)
//   overloaded           | x-fake-error: overloaded  529, the same bodies with
//                                               overloaded_error (Gemini: UNAVAILABLE)
//   http429 http529 ...  | x-fake-error: httpNNN     that status, a text body, no type
//   cut                  | x-fake-cut-after: N  the connection is destroyed after N
//                                               chunks (3 for the word); a non-stream
//                                               answer is cut after half its body
//                          x-fake-chunks: N     N text chunks (default 5, slow 20)
//                          x-fake-response-model: M  the model the answer names
// Stream headers are sent at once; chunk i (from 0) follows at 5 ms × i. A stream
// goes out as exactly one write per text chunk: the first carries the events
// before it, the last the events after it (finish, usage, [DONE]).

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const zlib = require('node:zlib');
const { performance } = require('node:perf_hooks');
const { kApis, kShapes, PlanUsage, Pieces, ErrorReply } = require('./fake_llm_shapes');

const kEncodings = ['gzip', 'deflate', 'br', 'zstd'];
const kErrorWords = ['ratelimit', 'quota', 'overloaded'];
const kGap = 5;
const kSlow = { firstMs: 300, gapMs: 50, chunks: 20 };

function ParseOptions(argv) {
  const options = { port: 0, tls: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port' && i + 1 < argv.length) {
      options.port = Number(argv[++i]);
    } else if (argv[i] === '--tls' && i + 2 < argv.length) {
      options.tls = { cert: fs.readFileSync(argv[i + 1]), key: fs.readFileSync(argv[i + 2]) };
      i += 2;
    } else {
      throw new Error(`unknown argument "${argv[i]}"; usage: fake_llm_server.js --port N [--tls CERT KEY]`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error('--port must be an integer from 0 to 65535');
  }
  return options;
}

// {api, model, stream} for a POST the server answers, else null.
function Route(path, body) {
  const gemini = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(path);
  if (gemini) {
    const stream = gemini[2] !== 'generateContent';
    return { api: 'gemini-generate', model: decodeURIComponent(gemini[1]), stream };
  }
  const api = {
    '/v1/chat/completions': 'openai-chat',
    '/v1/responses': 'openai-responses',
    '/v1/completions': 'openai-completions',
    '/v1/embeddings': 'openai-embeddings',
    '/v1/messages': 'anthropic-messages',
    '/api/chat': 'ollama-chat',
    '/api/generate': 'ollama-generate',
  }[path];
  if (!api) return null;
  const stream = kApis[api].family === 'ollama' ? body.stream !== false : body.stream === true;
  return { api, model: String(body.model || ''), stream: stream && api !== 'openai-embeddings' };
}

function ParseControls(model, headers) {
  const controls = {
    encoding: 'identity', slow: false, error: null, cutAfter: null, chunks: null, responseModel: null,
  };
  for (const word of model.toLowerCase().split(/[-_.:/]/)) {
    if (kEncodings.includes(word) || word === 'accept') controls.encoding = word;
    else if (word === 'slow') controls.slow = true;
    else if (kErrorWords.includes(word) || /^http[45]\d\d$/.test(word)) controls.error = word;
    else if (word === 'cut') controls.cutAfter = 3;
  }
  if (headers['x-fake-encoding']) controls.encoding = headers['x-fake-encoding'].toLowerCase();
  if (headers['x-fake-slow']) controls.slow = headers['x-fake-slow'] === '1';
  if (headers['x-fake-error']) controls.error = headers['x-fake-error'].toLowerCase();
  if (headers['x-fake-cut-after']) controls.cutAfter = Number(headers['x-fake-cut-after']);
  if (headers['x-fake-chunks']) controls.chunks = Number(headers['x-fake-chunks']);
  if (headers['x-fake-response-model']) controls.responseModel = headers['x-fake-response-model'];
  if (controls.encoding === 'accept') controls.encoding = Negotiate(headers['accept-encoding'] || '');
  if (controls.encoding !== 'identity' && !kEncodings.includes(controls.encoding)) {
    const known = ['identity', 'accept', ...kEncodings].join(', ');
    throw new Error(`x-fake-encoding "${controls.encoding}" is none of ${known}`);
  }
  if (controls.error && !kErrorWords.includes(controls.error) && !/^http[45]\d\d$/.test(controls.error)) {
    throw new Error(`x-fake-error "${controls.error}" is none of ${kErrorWords.join(', ')}, httpNNN`);
  }
  return controls;
}

// The client's first listed coding the server can make (q=0 excluded).
function Negotiate(acceptEncoding) {
  for (const item of acceptEncoding.split(',')) {
    const [coding, ...params] = item.trim().toLowerCase().split(';');
    if (params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))) continue;
    if (kEncodings.includes(coding.trim())) return coding.trim();
  }
  return 'identity';
}

function Zstd(buffer) {
  return childProcess.execFileSync('zstd', ['-c', '-q'], { input: buffer });
}

function EncodeWhole(buffer, encoding) {
  switch (encoding) {
    case 'gzip': return zlib.gzipSync(buffer);
    case 'deflate': return zlib.deflateSync(buffer);
    case 'br': return zlib.brotliCompressSync(buffer);
    case 'zstd': return Zstd(buffer);
    default: return buffer;
  }
}

// Writes a stream's chunks through its Content-Encoding, each flushed at once.
function StreamEncoder(res, encoding) {
  if (encoding === 'identity' || encoding === 'zstd') {
    const encode = encoding === 'zstd' ? Zstd : (b) => b;
    return {
      Write: async (text) => { res.write(encode(Buffer.from(text))); },
      End: () => new Promise((resolve) => res.end(resolve)),
    };
  }
  const make = { gzip: zlib.createGzip, deflate: zlib.createDeflate, br: zlib.createBrotliCompress }[encoding];
  const flush = encoding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH;
  const compressor = make();
  compressor.on('data', (data) => res.write(data));
  return {
    Write: (text) => new Promise((resolve) => { compressor.write(text); compressor.flush(flush, resolve); }),
    End: () => new Promise((resolve) => { compressor.on('end', () => res.end(resolve)); compressor.end(); }),
  };
}

const Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

class FakeLlmServer {
  constructor() {
    this.calls_ = [];
  }

  Handle(req, res) {
    // A client may go away mid-answer; that ends its call, not the server.
    req.socket.on('error', () => {});
    res.on('error', () => {});
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const arrival = performance.now();
      const [path, query] = req.url.split('?');
      if (req.method === 'GET' && path === '/_calls') {
        return this.ServeCalls(res, new URLSearchParams(query || ''));
      }
      let body = {};
      try {
        if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        return Reply(res, 400, 'text/plain', `request body is not JSON: ${err.message}\n`);
      }
      const route = req.method === 'POST' ? Route(path, body) : null;
      if (!route) return Reply(res, 404, 'text/plain', `no fake API at ${req.method} ${path}\n`);
      let controls;
      try {
        controls = ParseControls(route.model, req.headers);
      } catch (err) {
        return Reply(res, 400, 'text/plain', err.message + '\n');
      }
      this.Answer(req, res, { ...route, path, body, controls, arrival, socket: req.socket }).catch((err) => {
        process.stderr.write(`fake_llm_server: ${err.stack}\n`);
        res.destroy();
      });
    });
  }

  ServeCalls(res, params) {
    const client = params.get('client');
    const calls = this.calls_.filter((c) => client === null || c.client === client);
    Reply(res, 200, 'application/json', JSON.stringify(calls));
  }

  Plan(request, n) {
    const { api, body, controls, model } = request;
    const prefix = kShapes[api].idPrefix;
    const count = controls.chunks || (controls.slow ? kSlow.chunks : 5);
    return {
      api, n, model, id: prefix ? `${prefix}fake${n}x${crypto.randomBytes(6).toString('hex')}` : '',
      created: Math.floor(Date.now() / 1000), responseModel: controls.responseModel || model,
      pieces: Pieces(count, n), usage: PlanUsage(api, n),
      includeUsage: Boolean(body.stream_options && body.stream_options.include_usage),
      inputs: Array.isArray(body.input) ? body.input : [body.input], base64: body.encoding_format === 'base64',
    };
  }

  // Records the call, then answers it: an error, one body, or a stream.
  async Answer(req, res, request) {
    const { api, controls } = request;
    const n = this.calls_.length + 1;
    const plan = this.Plan(request, n);
    const call = {
      seq: n, client: req.headers['x-fake-client'] || null, acceptEncoding: req.headers['accept-encoding'] || null,
      api, path: request.path, model: request.model, responseModel: plan.responseModel, stream: request.stream,
      status: 200, encoding: controls.encoding, errorType: null, cut: false, delivered: false,
      id: plan.id || null, finishReason: null,
      usage: { input: 0, output: 0, cache_read: 0, cache_creation: 0, reasoning: 0 },
      chunks: 0, firstChunkMs: null, lastChunkMs: null,
    };
    this.calls_.push(call);
    const headers = { 'x-request-id': `req_fake${n}`, 'request-id': `req_fake${n}` };
    if (controls.encoding !== 'identity') headers['Content-Encoding'] = controls.encoding;
    if (controls.error) {
      const error = ErrorReply(api, controls.error, headers['x-request-id']);
      Object.assign(call, { status: error.status, errorType: error.type, id: null });
      return SendWhole(res, error.status, error.contentType, headers, Buffer.from(error.body), controls.encoding);
    }
    const sent = await (request.stream ? SendStream : SendBody)(res, request, plan, call, headers);
    if (sent) Object.assign(call, { delivered: true, usage: plan.usage, finishReason: kShapes[api].finishReason });
  }
}

// A non-stream answer with Content-Length. False when it was cut.
async function SendBody(res, request, plan, call, headers) {
  const { controls } = request;
  if (controls.slow) await Sleep(request.arrival + kSlow.firstMs - performance.now());
  const body = Buffer.from(JSON.stringify(kShapes[request.api].Body(plan)));
  call.firstChunkMs = call.lastChunkMs = performance.now() - request.arrival;
  call.chunks = 1;
  if (controls.cutAfter === null) {
    await SendWhole(res, 200, 'application/json', headers, body, controls.encoding);
    return true;
  }
  const encoded = EncodeWhole(body, controls.encoding);
  res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': encoded.length });
  res.write(encoded.subarray(0, encoded.length >> 1));
  await Cut(request.socket, call);
  return false;
}

// A stream: headers at once, then one write per text chunk. False when it was cut.
async function SendStream(res, request, plan, call, headers) {
  const { controls } = request;
  const shape = kShapes[request.api];
  const events = shape.Stream(plan);
  const last = events.deltas.length - 1;
  const writes = events.deltas.map((delta, i) => (i === 0 ? events.head.join('') : '') + delta
    + (i === last ? events.tail.join('') : ''));
  const contentType = shape.ndjson ? 'application/x-ndjson' : 'text/event-stream; charset=utf-8';
  res.writeHead(200, { ...headers, 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  const encoder = StreamEncoder(res, controls.encoding);
  for (let i = 0; i < writes.length; i++) {
    if (controls.cutAfter !== null && i === controls.cutAfter) {
      await Cut(request.socket, call);
      return false;
    }
    const due = controls.slow ? kSlow.firstMs + kSlow.gapMs * i : kGap * i;
    await Sleep(request.arrival + due - performance.now());
    await encoder.Write(writes[i]);
    call.lastChunkMs = performance.now() - request.arrival;
    if (i === 0) call.firstChunkMs = call.lastChunkMs;
    call.chunks++;
  }
  await encoder.End();
  return true;
}

// The socket is destroyed with no end to the body: no last chunk, no TLS close_notify.
async function Cut(socket, call) {
  call.cut = true;
  await Sleep(30);
  socket.destroy();
}

function SendWhole(res, status, contentType, headers, body, encoding) {
  const encoded = EncodeWhole(body, encoding);
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': encoded.length });
  return new Promise((resolve) => res.end(encoded, resolve));
}

function Reply(res, status, contentType, text) {
  return SendWhole(res, status, contentType, {}, Buffer.from(text), 'identity');
}

function Main() {
  const options = ParseOptions(process.argv.slice(2));
  const fake = new FakeLlmServer();
  const handler = (req, res) => fake.Handle(req, res);
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.on('error', (err) => {
    process.stderr.write(`fake_llm_server: cannot listen on 127.0.0.1:${options.port}: ${err.message}\n`);
    process.exit(1);
  });
  process.on('SIGTERM', () => process.exit(0));
  // Said loudly on stderr, but the calls of other clients go on.
  process.on('uncaughtException', (err) => process.stderr.write(`fake_llm_server: uncaught: ${err.stack}\n`));
  server.listen(options.port, '127.0.0.1', () => {
    fs.writeSync(1, JSON.stringify({ port: server.address().port }) + '\n');
  });
}

if (require.main === module) {
  try {
    Main();
  } catch (err) {
    process.stderr.write(`fake_llm_server: ${err.message}\n`);
    process.exit(2);
  }
}

module.exports = { ParseControls, Negotiate, Route };
