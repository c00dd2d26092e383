'use strict';
// Self-test of otlp_receiver.js: requests built with the official OTLP definitions
// (the generated protobufjs classes, and the current otlp-transformer serializer)
// are posted plain and gzipped, and the receiver's FILE is checked field by field.
// Run: node --test selftest_otlp_receiver.js   (or: npm test)

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const test = require('node:test');
const zlib = require('node:zlib');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { proto } = require('./otlp_trace_json');

const kReceiver = path.join(__dirname, 'otlp_receiver.js');
const kTraceId = '0af7651916cd43dd8448eb211c80319c';
const kSpanId = 'b7ad6b7169203331';
const kParentId = '00f067aa0ba902b7';
const kBigInt = '9007199254740993';  // 2^53 + 1: not exact as a double

// Starts the receiver and resolves once it printed its port.
function StartReceiver(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-receiver-'));
  const out = path.join(dir, 'requests.jsonl');
  const child = spawn(process.execPath, [kReceiver, '--port', '0', '--out', out, ...extraArgs], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`receiver exited early (${code}): ${stderr}`)));
    const replies = [];  // resolvers waiting for the next stdout line
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      lines.on('line', (reply) => replies.shift()(JSON.parse(reply)));
      resolve({
        port: JSON.parse(line).listening,
        // Sends one mode command on stdin; resolves with the receiver's reply.
        SetMode: (command) => new Promise((done) => {
          replies.push(done);
          child.stdin.write(JSON.stringify(command) + '\n');
        }),
        startedAt: Date.now(),
        out,
        Lines: () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse) : []),
        Stop: async () => {
          child.kill('SIGTERM');
          const result = await exited;
          fs.rmSync(dir, { recursive: true, force: true });
          return { ...result, stderr };
        },
      });
    });
  });
}

function Post(port, urlPath, body, headers, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

const kProtobuf = { 'Content-Type': 'application/x-protobuf' };
const kProtobufGzip = { ...kProtobuf, 'Content-Encoding': 'gzip' };

function Kv(key, value) {
  return { key, value };
}

// One resource, one scope, one span carrying every AnyValue type.
function BuildRequestBytes() {
  const { ExportTraceServiceRequest } = proto.collector.trace.v1;
  const everyType = [
    Kv('s', { stringValue: 'GET' }),
    Kv('b', { boolValue: true }),
    Kv('i', { intValue: 200 }),
    Kv('neg', { intValue: -7 }),
    Kv('big', { intValue: kBigInt }),
    Kv('d', { doubleValue: 0.25 }),
    Kv('bytes', { bytesValue: Buffer.from([1, 2, 255]) }),
    Kv('arr', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }] } }),
    Kv('kv', { kvlistValue: { values: [Kv('inner', { boolValue: false })] } }),
    Kv('none', {}),
  ];
  const message = ExportTraceServiceRequest.fromObject({
    resourceSpans: [{
      resource: { attributes: [Kv('service.name', { stringValue: 'infrared' }), Kv('host.pid', { intValue: 42 })] },
      scopeSpans: [{
        scope: { name: 'infrared.http', version: '0.1.0' },
        spans: [{
          traceId: Buffer.from(kTraceId, 'hex'),
          spanId: Buffer.from(kSpanId, 'hex'),
          parentSpanId: Buffer.from(kParentId, 'hex'),
          name: 'GET /',
          kind: 'SPAN_KIND_SERVER',
          startTimeUnixNano: '1700000000123456789',
          endTimeUnixNano: '1700000000223456789',
          attributes: everyType,
          events: [{ timeUnixNano: '1700000000200000000', name: 'first byte', attributes: [Kv('n', { intValue: 1 })] }],
          status: { code: 'STATUS_CODE_ERROR', message: 'upstream reset' },
        }],
      }],
    }],
  });
  return Buffer.from(ExportTraceServiceRequest.encode(message).finish());
}

const kExpectedSpan = {
  traceId: kTraceId,
  spanId: kSpanId,
  parentSpanId: kParentId,
  traceState: '',
  flags: 0,
  name: 'GET /',
  kind: 'SPAN_KIND_SERVER',
  startTimeUnixNano: '1700000000123456789',
  endTimeUnixNano: '1700000000223456789',
  attributes: {
    s: 'GET', b: true, i: 200, neg: -7, big: kBigInt, d: 0.25, bytes: 'AQL/',
    arr: ['a', 2], kv: { inner: false }, none: null,
  },
  rawAttributeTypes: {
    s: 'stringValue', b: 'boolValue', i: 'intValue', neg: 'intValue', big: 'intValue',
    d: 'doubleValue', bytes: 'bytesValue', arr: 'arrayValue', kv: 'kvlistValue', none: 'empty',
  },
  droppedAttributesCount: 0,
  events: [{
    timeUnixNano: '1700000000200000000', name: 'first byte',
    attributes: { n: 1 }, rawAttributeTypes: { n: 'intValue' }, droppedAttributesCount: 0,
  }],
  droppedEventsCount: 0,
  links: [],
  droppedLinksCount: 0,
  status: { code: 'STATUS_CODE_ERROR', message: 'upstream reset' },
};

function CheckAccepted(line, encoding) {
  assert.equal(typeof line.receivedAt, 'number');
  assert.equal(line.contentEncoding, encoding);
  assert.equal(line.resourceSpans.length, 1);
  const rs = line.resourceSpans[0];
  assert.deepEqual(rs.resource, {
    attributes: { 'service.name': 'infrared', 'host.pid': 42 },
    rawAttributeTypes: { 'service.name': 'stringValue', 'host.pid': 'intValue' },
    droppedAttributesCount: 0,
  });
  assert.equal(rs.scopeSpans.length, 1);
  assert.equal(rs.scopeSpans[0].scope.name, 'infrared.http');
  assert.equal(rs.scopeSpans[0].scope.version, '0.1.0');
  assert.deepEqual(rs.scopeSpans[0].spans, [kExpectedSpan]);
}

test('plain and gzipped requests are decoded into FILE', async () => {
  const receiver = await StartReceiver();
  try {
    const body = BuildRequestBytes();
    for (const [payload, headers] of [[body, kProtobuf], [zlib.gzipSync(body), kProtobufGzip]]) {
      const res = await Post(receiver.port, '/v1/traces', payload, headers);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/x-protobuf');
      const { ExportTraceServiceResponse } = proto.collector.trace.v1;
      assert.deepEqual(ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(res.body)), {});
    }
    const lines = receiver.Lines();
    assert.equal(lines.length, 2);
    CheckAccepted(lines[0], 'identity');
    CheckAccepted(lines[1], 'gzip');
  } finally {
    const stopped = await receiver.Stop();
    assert.equal(stopped.code, 0);
    assert.match(stopped.stderr, /"accepted":2/);
  }
});

test('bytes from the current otlp-transformer serializer decode', async () => {
  const receiver = await StartReceiver();
  try {
    const span = {
      name: 'connect',
      kind: 2,  // api SpanKind.CLIENT; OTLP adds one
      spanContext: () => ({ traceId: kTraceId, spanId: kSpanId, traceFlags: 1 }),
      parentSpanContext: { traceId: kTraceId, spanId: kParentId, traceFlags: 1, isRemote: true },
      startTime: [1700000000, 5],
      endTime: [1700000001, 0],
      attributes: { 'net.peer.port': 443, ratio: 1.5, ok: false, name: 'x' },
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 1 },
      resource: { attributes: { 'service.name': 'sdk' } },
      instrumentationScope: { name: 'scope' },
    };
    const body = ProtobufTraceSerializer.serializeRequest([span]);
    const res = await Post(receiver.port, '/v1/traces', Buffer.from(body), kProtobuf);
    assert.equal(res.status, 200);
    const got = receiver.Lines()[0].resourceSpans[0].scopeSpans[0].spans[0];
    assert.equal(got.traceId, kTraceId);
    assert.equal(got.parentSpanId, kParentId);
    assert.equal(got.kind, 'SPAN_KIND_CLIENT');
    assert.equal(got.startTimeUnixNano, '1700000000000000005');
    assert.equal(got.endTimeUnixNano, '1700000001000000000');
    assert.equal(got.flags, 0x301);
    assert.deepEqual(got.attributes, { 'net.peer.port': 443, ratio: 1.5, ok: false, name: 'x' });
    assert.deepEqual(got.rawAttributeTypes,
      { 'net.peer.port': 'intValue', ratio: 'doubleValue', ok: 'boolValue', name: 'stringValue' });
    assert.deepEqual(got.status, { code: 'STATUS_CODE_OK', message: '' });
  } finally {
    await receiver.Stop();
  }
});

test('bad bodies get 400 or 415 and a decodeError line; other paths 404', async () => {
  const receiver = await StartReceiver();
  try {
    assert.equal((await Post(receiver.port, '/v1/traces', Buffer.from([0x0a, 0xff, 0xff]), kProtobuf)).status, 400);
    assert.equal((await Post(receiver.port, '/v1/traces', Buffer.from('not gzip'), kProtobufGzip)).status, 400);
    assert.equal((await Post(receiver.port, '/v1/traces', '{}', { 'Content-Type': 'application/json' })).status, 415);
    assert.equal((await Post(receiver.port, '/v1/metrics', BuildRequestBytes(), kProtobuf)).status, 404);
    const lines = receiver.Lines();
    assert.equal(lines.length, 3);
    for (const line of lines) assert.equal(typeof line.decodeError, 'string');
  } finally {
    const stopped = await receiver.Stop();
    assert.match(stopped.stderr, /"decodeErrors":3,"notFound":1/);
  }
});

test('failure window answers the status with Retry-After, then 200', async () => {
  const receiver = await StartReceiver(['--fail-status', '503', '--fail-for-ms', '1000', '--retry-after', '1']);
  try {
    const body = BuildRequestBytes();
    const first = await Post(receiver.port, '/v1/traces', body, kProtobuf);
    assert.equal(first.status, 503);
    assert.equal(first.headers['retry-after'], '1');
    // The window is wall-clock time by design; poll for its end instead of guessing.
    let res = first;
    while (res.status === 503) {
      assert.ok(Date.now() - receiver.startedAt < 5000, 'still failing after 5 s');
      await new Promise((r) => setTimeout(r, 100));
      res = await Post(receiver.port, '/v1/traces', body, kProtobuf);
    }
    assert.equal(res.status, 200);
    assert.ok(Date.now() - receiver.startedAt >= 900, 'window ended before 1 s');
    const lines = receiver.Lines();
    assert.deepEqual(lines.slice(0, -1).map((l) => [l.rejectedWithStatus, l.spanCount]),
      lines.slice(0, -1).map(() => [503, 1]));
    CheckAccepted(lines[lines.length - 1], 'identity');
  } finally {
    const stopped = await receiver.Stop();
    assert.equal(stopped.code, 0);
  }
});

test('without --retry-after no Retry-After header is sent', async () => {
  const receiver = await StartReceiver(['--fail-status', '429']);
  try {
    const res = await Post(receiver.port, '/v1/traces', BuildRequestBytes(), kProtobuf);
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], undefined);
  } finally {
    await receiver.Stop();
  }
});

// Sends raw bytes on a new connection and resolves with everything that comes
// back before the server closes it.
function RawExchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const net = require('node:net');
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

test('modes set on stdin: garbage, partial, status, not-http, then ok', async () => {
  const receiver = await StartReceiver();
  try {
    const body = BuildRequestBytes();
    const { ExportTraceServiceResponse } = proto.collector.trace.v1;

    assert.deepEqual(await receiver.SetMode({ mode: 'garbage' }), { mode: 'garbage' });
    const garbage = await Post(receiver.port, '/v1/traces', body, kProtobuf);
    assert.equal(garbage.status, 200);
    assert.equal(garbage.headers['content-type'], 'application/x-protobuf');
    assert.deepEqual([...garbage.body.subarray(0, 11)], new Array(11).fill(0xff));
    assert.throws(() => ExportTraceServiceResponse.decode(garbage.body));

    await receiver.SetMode({ mode: 'partial', rejectSpans: 5 });
    const partial = await Post(receiver.port, '/v1/traces', body, kProtobuf);
    assert.equal(partial.status, 200);
    const decoded = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(partial.body), { longs: Number });
    assert.equal(decoded.partialSuccess.rejectedSpans, 1);  // at most the request's one span
    assert.match(decoded.partialSuccess.errorMessage, /on purpose/);

    await receiver.SetMode({ mode: 'status', status: 400, requests: 1 });
    assert.equal((await Post(receiver.port, '/v1/traces', body, kProtobuf)).status, 400);

    await receiver.SetMode({ mode: 'not-http', requests: 1 });
    const request = Buffer.concat([Buffer.from(
      `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`),
    body]);
    const raw = await RawExchange(receiver.port, request);
    assert.equal(raw.length, 64);
    assert.ok(raw[0] >= 0x80, 'the answer must not start like HTTP');

    // Both limited modes are used up: back to ok.
    assert.equal((await Post(receiver.port, '/v1/traces', body, kProtobuf)).status, 200);

    const lines = receiver.Lines();
    assert.equal(lines.length, 5);
    assert.equal(lines[0].garbageResponse, true);
    CheckAccepted(lines[0], 'identity');
    assert.equal(lines[1].partialRejected, 1);
    assert.deepEqual([lines[2].rejectedWithStatus, lines[2].spanCount], [400, 1]);
    assert.deepEqual([lines[3].notHttp, lines[3].spanCount], [true, 1]);
    CheckAccepted(lines[4], 'identity');

    const refused = await receiver.SetMode({ mode: 'slow' });
    assert.match(refused.error, /delay/);
    assert.match((await receiver.SetMode({ mode: 'nope' })).error, /mode must be one of/);
  } finally {
    const stopped = await receiver.Stop();
    assert.equal(stopped.code, 0);
    assert.match(stopped.stderr, /"garbage":1,"notHttp":1,"partial":1/);
  }
});

test('slow mode answers after the delay, and notes a client that hangs up first', async () => {
  const receiver = await StartReceiver(['--mode', 'slow', '--delay-ms', '300']);
  try {
    const body = BuildRequestBytes();
    const start = Date.now();
    assert.equal((await Post(receiver.port, '/v1/traces', body, kProtobuf)).status, 200);
    assert.ok(Date.now() - start >= 290, 'answered before the delay');

    await receiver.SetMode({ mode: 'slow', delayMs: 5000 });
    await assert.rejects(Post(receiver.port, '/v1/traces', body, kProtobuf, 200), /timed out/);
    // The abandoned line is written when the receiver sees the client go.
    let lines = receiver.Lines();
    while (!lines.some((l) => l.abandoned)) {
      await new Promise((r) => setTimeout(r, 20));
      lines = receiver.Lines();
    }
    assert.deepEqual(lines.map((l) => Object.keys(l).filter((k) => k !== 'receivedAt')[0]),
      ['slowStarted', 'contentEncoding', 'slowStarted', 'abandoned']);
    assert.equal(lines[1].slowMs, 300);
    CheckAccepted(lines[1], 'identity');
    assert.equal(lines[3].spanCount, 1);
    assert.ok(lines[3].afterMs >= 150 && lines[3].afterMs < 2000, `afterMs ${lines[3].afterMs}`);
  } finally {
    const stopped = await receiver.Stop();
    assert.equal(stopped.code, 0);
    assert.match(stopped.stderr, /"accepted":1,/);
    assert.match(stopped.stderr, /"abandoned":1,/);
  }
});

test('invalid mode flags are refused', () => {
  const { ParseOptions } = require('./otlp_receiver');
  assert.throws(() => ParseOptions(['--out', 'x', '--mode', 'slow']), /delay/);
  assert.throws(() => ParseOptions(['--out', 'x', '--mode', 'status', '--status', '200']), /400-599/);
  assert.throws(() => ParseOptions(['--out', 'x', '--mode', 'ok', '--mode-requests', '0']), /positive/);
  assert.deepEqual(ParseOptions(['--out', 'x', '--mode', 'partial', '--reject-spans', '2']).mode,
    { mode: 'partial', rejectSpans: 2 });
});
