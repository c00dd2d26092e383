'use strict';
// OTLP/HTTP trace receiver for end-to-end tests.
//
//   node otlp_receiver.js --port 0 --out FILE
//        [--fail-status 503 [--fail-for-ms 10000] [--retry-after 1]]
//
// Listens on 127.0.0.1, prints {"listening": PORT} on stdout, and appends one JSON
// line to FILE per POST /v1/traces:
//   {"receivedAt": ms, "contentEncoding": ..., "resourceSpans": [...]}  accepted (200)
//   {"receivedAt": ms, "rejectedWithStatus": 503, "spanCount": n}       failure window
//   {"receivedAt": ms, "decodeError": "..."}                           400 or 415
// A line is written before the response is sent, so a client that saw the answer
// finds its line in FILE. During the first --fail-for-ms after start (forever if
// --fail-status is given alone) every POST /v1/traces gets --fail-status.
// SIGTERM or SIGINT prints a JSON summary of counts on stderr and exits 0.

const fs = require('node:fs');
const http = require('node:http');
const zlib = require('node:zlib');
const { parseArgs } = require('node:util');
const { DecodeTraceRequest, CountSpans, EncodeEmptyTraceResponse } = require('./otlp_trace_json');

const kTracesPath = '/v1/traces';
const kProtobufType = 'application/x-protobuf';

function ParseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      out: { type: 'string' },
      'fail-status': { type: 'string' },
      'fail-for-ms': { type: 'string' },
      'retry-after': { type: 'string' },
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
    this.counts_ = { requests: 0, accepted: 0, rejected: 0, decodeErrors: 0, notFound: 0, spans: 0 };
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
    ReadBody(req, (read) => this.HandleBody(req, res, read));
  }

  HandleBody(req, res, read) {
    if (this.InFailureWindow()) return this.Reject(res, read);
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
    this.counts_.accepted++;
    this.counts_.spans += CountSpans(resourceSpans);
    this.Record({ contentEncoding: read.encoding, resourceSpans });
    Reply(res, 200, kProtobufType, EncodeEmptyTraceResponse());
  }

  // Failure window: answer the configured status, but note how many spans the
  // attempt carried so retry tests can match attempts to later successes.
  Reject(res, read) {
    let spanCount = null;
    if (!read.error) {
      try {
        spanCount = CountSpans(DecodeTraceRequest(read.body));
      } catch (err) {
        spanCount = null;
      }
    }
    this.counts_.rejected++;
    this.Record({ rejectedWithStatus: this.options_.failStatus, spanCount });
    if (this.options_.retryAfter !== null) res.setHeader('Retry-After', this.options_.retryAfter);
    Reply(res, this.options_.failStatus, 'text/plain', 'failing on purpose (--fail-status)\n');
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
  });
}

if (require.main === module) Main();

module.exports = { ParseOptions, Receiver };
