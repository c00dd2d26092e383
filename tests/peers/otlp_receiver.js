'use strict';
// OTLP/HTTP trace receiver for end-to-end tests.
//
//   node otlp_receiver.js --port 0 --out FILE
//        [--fail-status 503 [--fail-for-ms 10000] [--retry-after 1]]
//        [--mode MODE [--delay-ms N] [--status N] [--reject-spans N] [--mode-requests N]]
//
// Listens on 127.0.0.1, prints {"listening": PORT} on stdout, and appends one JSON
// line to FILE per POST /v1/traces:
//   {"receivedAt": ms, "contentEncoding": ..., "resourceSpans": [...]}  accepted (200)
//   {"receivedAt": ms, "rejectedWithStatus": 503, "spanCount": n}       failure window, status mode
//   {"receivedAt": ms, "decodeError": "..."}                           400 or 415
// A line is written before the response is sent, so a client that saw the answer
// finds its line in FILE. During the first --fail-for-ms after start (forever if
// --fail-status is given alone) every POST /v1/traces gets --fail-status.
//
// Outside that window the mode decides how a request that decodes is answered:
//   ok        200 with an empty ExportTraceServiceResponse (the default)
//   slow      the same after --delay-ms (the request is read in full first). On
//             arrival {"slowStarted": true, "spanCount": n} is written; a client
//             that hangs up before the delay gets nothing and its line is
//             {"abandoned": true, "spanCount": n, "afterMs": ms since the request
//             arrived}, written when it hangs up; an answered one carries "slowMs"
//   garbage   200, Content-Type application/x-protobuf, and a body that is no
//             protobuf (eleven 0xff bytes, then random ones); "garbageResponse": true
//   not-http  no HTTP at all: random bytes (never starting with "H") on the socket,
//             then it is closed; the line is {"notHttp": true, "spanCount": n}
//   status    answers --status (400-599) like the failure window
//   partial   200 with a partial success rejecting --reject-spans spans (at most
//             the request's); the line carries "partialRejected": the number sent
// With --mode-requests N only the next N requests that decode (or, in status
// mode, any N requests) get the mode, and later ones "ok". The mode can be
// changed while running: each JSON line on stdin such as
// {"mode": "slow", "delayMs": 10000, "requests": 1}, {"mode": "status", "status": 400}
// or {"mode": "partial", "rejectSpans": 2} applies to requests whose body is read
// after it, and is acknowledged on stdout with {"mode": ...} (or {"error": "..."}).
// SIGTERM or SIGINT prints a JSON summary of counts on stderr and exits 0.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const zlib = require('node:zlib');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const {
  DecodeTraceRequest, CountSpans, EncodeEmptyTraceResponse, EncodePartialSuccessResponse,
} = require('./otlp_trace_json');

const kTracesPath = '/v1/traces';
const kProtobufType = 'application/x-protobuf';
const kModes = ['ok', 'slow', 'garbage', 'not-http', 'status', 'partial'];

// Validates a mode and its parameters; returns {mode, delayMs, status, rejectSpans,
// requests}, the last one only when the mode is limited to that many requests.
function ParseMode({ mode, delayMs, status, rejectSpans, requests }) {
  if (!kModes.includes(mode)) throw new Error(`mode must be one of ${kModes.join(', ')}, got "${mode}".`);
  const parsed = { mode };
  if (requests !== undefined && requests !== null) {
    parsed.requests = Number(requests);
    if (!(Number.isInteger(parsed.requests) && parsed.requests > 0)) {
      throw new Error(`the number of requests a mode lasts (--mode-requests, "requests") must be a positive integer, got "${requests}".`);
    }
  }
  if (mode === 'slow') {
    parsed.delayMs = Number(delayMs);
    if (!(Number.isInteger(parsed.delayMs) && parsed.delayMs >= 0)) {
      throw new Error(`slow needs a delay in milliseconds (--delay-ms, "delayMs"), got "${delayMs}".`);
    }
  }
  if (mode === 'status') {
    parsed.status = Number(status);
    if (!(Number.isInteger(parsed.status) && parsed.status >= 400 && parsed.status <= 599)) {
      throw new Error(`status needs an HTTP error status 400-599 (--status, "status"), got "${status}".`);
    }
  }
  if (mode === 'partial') {
    parsed.rejectSpans = Number(rejectSpans);
    if (!(Number.isInteger(parsed.rejectSpans) && parsed.rejectSpans >= 0)) {
      throw new Error(`partial needs a span count (--reject-spans, "rejectSpans"), got "${rejectSpans}".`);
    }
  }
  return parsed;
}

// A 200 body that can never decode: eleven 0xff bytes make a varint longer
// than any protobuf tag, whatever follows.
function GarbageBody() {
  return Buffer.concat([Buffer.alloc(11, 0xff), crypto.randomBytes(53)]);
}

// Bytes that are no HTTP response: the first has its top bit set, so it is never "H".
function NotHttpBytes() {
  const bytes = crypto.randomBytes(64);
  bytes[0] |= 0x80;
  return bytes;
}

function ParseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      out: { type: 'string' },
      'fail-status': { type: 'string' },
      'fail-for-ms': { type: 'string' },
      'retry-after': { type: 'string' },
      mode: { type: 'string', default: 'ok' },
      'delay-ms': { type: 'string' },
      status: { type: 'string' },
      'reject-spans': { type: 'string' },
      'mode-requests': { type: 'string' },
    },
    strict: true,
  });
  if (!values.out) {
    throw new Error('--out FILE is required: the receiver appends one JSON line per request to it.');
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535, got "${values.port}".`);
  }
  const failStatus = values['fail-status'] === undefined ? null : Number(values['fail-status']);
  if (failStatus !== null && !(Number.isInteger(failStatus) && failStatus >= 400 && failStatus <= 599)) {
    throw new Error(`--fail-status must be an HTTP error status (400-599), got "${values['fail-status']}".`);
  }
  const failForMs = values['fail-for-ms'] === undefined ? Infinity : Number(values['fail-for-ms']);
  if (!(failForMs >= 0)) {
    throw new Error(`--fail-for-ms must be a non-negative number, got "${values['fail-for-ms']}".`);
  }
  if (failStatus === null && (values['fail-for-ms'] !== undefined || values['retry-after'] !== undefined)) {
    throw new Error('--fail-for-ms and --retry-after only apply together with --fail-status.');
  }
  return {
    port,
    out: values.out,
    failStatus,
    failForMs,
    retryAfter: values['retry-after'] === undefined ? null : values['retry-after'],
    mode: ParseMode({
      mode: values.mode,
      delayMs: values['delay-ms'],
      status: values.status,
      rejectSpans: values['reject-spans'],
      requests: values['mode-requests'],
    }),
  };
}

// Reads the whole body and undoes Content-Encoding. Returns {body} or {error, status}.
function ReadBody(req, callback) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('error', (err) => callback({ error: `reading the request failed: ${err.message}`, status: 400 }));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const encoding = (req.headers['content-encoding'] || 'identity').trim().toLowerCase();
    if (encoding === 'identity') return callback({ body: raw, encoding });
    if (encoding !== 'gzip') {
      return callback({ error: `unsupported Content-Encoding "${encoding}"`, status: 415, encoding });
    }
    zlib.gunzip(raw, (err, body) => {
      if (err) return callback({ error: `gunzip failed: ${err.message}`, status: 400, encoding });
      callback({ body, encoding });
    });
  });
}

function IsProtobuf(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase() === kProtobufType;
}

class Receiver {
  constructor(options, now) {
    this.options_ = options;
    this.now_ = now;
    this.startedAt_ = now();
    this.mode_ = options.mode || { mode: 'ok' };
    this.counts_ = {
      requests: 0, accepted: 0, rejected: 0, decodeErrors: 0, notFound: 0, spans: 0,
      abandoned: 0, garbage: 0, notHttp: 0, partial: 0,
    };
  }

  // Applies a mode change (see the header); throws on an invalid one.
  SetMode(request) {
    this.mode_ = ParseMode(request);
    return { ...this.mode_ };
  }

  Summary() {
    return { ...this.counts_ };
  }

  Record(line) {
    fs.appendFileSync(this.options_.out, JSON.stringify({ receivedAt: this.now_(), ...line }) + '\n');
  }

  InFailureWindow() {
    return this.options_.failStatus !== null && this.now_() - this.startedAt_ < this.options_.failForMs;
  }

  Handle(req, res) {
    const path = req.url.split('?')[0];
    if (path !== kTracesPath) {
      this.counts_.notFound++;
      process.stderr.write(`otlp_receiver: 404 for ${req.method} ${req.url}\n`);
      req.resume();
      return Reply(res, 404, 'text/plain', `no handler for ${path}; only POST ${kTracesPath}\n`);
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return Reply(res, 405, 'text/plain', `${kTracesPath} takes POST only\n`);
    }
    this.counts_.requests++;
    const arrivedAt = this.now_();
    ReadBody(req, (read) => this.HandleBody(req, res, read, arrivedAt));
  }

  // The mode for one request, counting it against a limited mode.
  TakeMode() {
    const mode = this.mode_;
    if (mode.requests !== undefined && --mode.requests === 0) this.mode_ = { mode: 'ok' };
    return mode;
  }

  HandleBody(req, res, read, arrivedAt) {
    if (this.InFailureWindow()) return this.Reject(res, read, this.options_.failStatus);
    if (this.mode_.mode === 'status') return this.Reject(res, read, this.TakeMode().status);
    if (read.error) return this.DecodeFailed(res, read.status, read.error);
    if (!IsProtobuf(req.headers['content-type'])) {
      return this.DecodeFailed(res, 415, `unsupported Content-Type "${req.headers['content-type'] || ''}"; want ${kProtobufType}`);
    }
    let resourceSpans;
    try {
      resourceSpans = DecodeTraceRequest(read.body);
    } catch (err) {
      return this.DecodeFailed(res, 400, `ExportTraceServiceRequest did not decode: ${err.message}`);
    }
    const spanCount = CountSpans(resourceSpans);
    const mode = this.TakeMode();
    switch (mode.mode) {
      case 'slow': return this.AnswerSlowly(res, read, resourceSpans, mode.delayMs, arrivedAt);
      case 'garbage':
        this.Accept(spanCount, { contentEncoding: read.encoding, garbageResponse: true, resourceSpans });
        this.counts_.garbage++;
        return Reply(res, 200, kProtobufType, GarbageBody());
      case 'not-http':
        this.counts_.notHttp++;
        this.Record({ notHttp: true, spanCount });
        return req.socket.end(NotHttpBytes());
      case 'partial': {
        const rejected = Math.min(mode.rejectSpans, spanCount);
        this.counts_.partial++;
        this.Accept(spanCount, { contentEncoding: read.encoding, partialRejected: rejected, resourceSpans });
        return Reply(res, 200, kProtobufType, EncodePartialSuccessResponse(rejected, 'rejected on purpose (partial mode)'));
      }
      default:
        this.Accept(spanCount, { contentEncoding: read.encoding, resourceSpans });
        return Reply(res, 200, kProtobufType, EncodeEmptyTraceResponse());
    }
  }

  Accept(spanCount, line) {
    this.counts_.accepted++;
    this.counts_.spans += spanCount;
    this.Record(line);
  }

  // Answers like "ok" after delayMs, unless the client hangs up first.
  AnswerSlowly(res, read, resourceSpans, delayMs, arrivedAt) {
    this.Record({ slowStarted: true, spanCount: CountSpans(resourceSpans) });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.Accept(CountSpans(resourceSpans), { contentEncoding: read.encoding, slowMs: delayMs, resourceSpans });
      Reply(res, 200, kProtobufType, EncodeEmptyTraceResponse());
    }, delayMs);
    res.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.counts_.abandoned++;
      this.Record({ abandoned: true, spanCount: CountSpans(resourceSpans), afterMs: this.now_() - arrivedAt });
    });
  }

  // Failure window or status mode: answer `status`, but note how many spans the
  // attempt carried so retry tests can match attempts to later successes.
  Reject(res, read, status) {
    let spanCount = null;
    if (!read.error) {
      try {
        spanCount = CountSpans(DecodeTraceRequest(read.body));
      } catch (err) {
        spanCount = null;
      }
    }
    this.counts_.rejected++;
    this.Record({ rejectedWithStatus: status, spanCount });
    if (this.options_.retryAfter !== null) res.setHeader('Retry-After', this.options_.retryAfter);
    Reply(res, status, 'text/plain', 'failing on purpose (--fail-status or status mode)\n');
  }

  DecodeFailed(res, status, message) {
    this.counts_.decodeErrors++;
    this.Record({ decodeError: message });
    process.stderr.write(`otlp_receiver: ${status}: ${message}\n`);
    Reply(res, status, 'text/plain', message + '\n');
  }
}

function Reply(res, status, contentType, body) {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function Main() {
  let options;
  try {
    options = ParseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`otlp_receiver: ${err.message}\n`);
    process.exit(2);
  }
  const receiver = new Receiver(options, Date.now);
  const server = http.createServer((req, res) => receiver.Handle(req, res));
  const stop = () => {
    fs.writeSync(2, JSON.stringify({ otlpReceiverSummary: receiver.Summary() }) + '\n');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.on('error', (err) => {
    process.stderr.write(`otlp_receiver: cannot listen on 127.0.0.1:${options.port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(options.port, '127.0.0.1', () => {
    fs.writeSync(1, JSON.stringify({ listening: server.address().port }) + '\n');
    readline.createInterface({ input: process.stdin }).on('line', (line) => {
      if (!line.trim()) return;
      let reply;
      try {
        reply = receiver.SetMode(JSON.parse(line));
      } catch (err) {
        reply = { error: err.message };
      }
      fs.writeSync(1, JSON.stringify(reply) + '\n');
    });
  });
}

if (require.main === module) Main();

module.exports = { ParseOptions, Receiver };
