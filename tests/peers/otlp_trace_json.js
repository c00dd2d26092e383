'use strict';
// Decodes OTLP trace export requests with the OpenTelemetry project's own generated
// protobufjs code, and turns them into plain JSON that end-to-end tests can compare.
//
// The current @opentelemetry/otlp-transformer encodes with a hand-written writer and
// no longer ships the generated classes; 0.216.0 is the last release whose
// build/src/generated/root.js still holds the trace collector messages. package.json
// installs that release under the alias "otlp-transformer-generated".

const root = require('otlp-transformer-generated/build/src/generated/root.js');

const proto = root.opentelemetry.proto;
const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest;
const ExportTraceServiceResponse = proto.collector.trace.v1.ExportTraceServiceResponse;

// bytes as base64 strings (ids are turned into hex below), 64-bit integers as
// decimal strings so no precision is lost, enums by name, every field present.
const kToObjectOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

function Base64ToHex(b64) {
  return Buffer.from(b64, 'base64').toString('hex');
}

// int64 values become numbers when exact, else stay decimal strings.
function Int64ToJson(decimal) {
  const n = Number(decimal);
  return Number.isSafeInteger(n) ? n : decimal;
}

// JSON has no NaN or Infinity; keep them visible as strings.
function DoubleToJson(d) {
  return Number.isFinite(d) ? d : String(d);
}

// AnyValue (toObject form) to a plain JSON value. `value` names the oneof field
// that was set; it is undefined for an empty AnyValue.
function AnyValueToJson(any) {
  switch (any ? any.value : undefined) {
    case 'stringValue': return any.stringValue;
    case 'boolValue': return any.boolValue;
    case 'intValue': return Int64ToJson(any.intValue);
    case 'doubleValue': return DoubleToJson(any.doubleValue);
    case 'bytesValue': return any.bytesValue;  // base64, as in OTLP/JSON
    case 'arrayValue': return any.arrayValue.values.map(AnyValueToJson);
    case 'kvlistValue': return AttributesToJson(any.kvlistValue.values).attributes;
    default: return null;
  }
}

// Repeated KeyValue to {attributes: {key: value}, rawAttributeTypes: {key: field}},
// where field is the AnyValue oneof that carried the value ("intValue", ...), or
// "empty" when none did.
function AttributesToJson(keyValues) {
  const attributes = {};
  const rawAttributeTypes = {};
  for (const kv of keyValues) {
    attributes[kv.key] = AnyValueToJson(kv.value);
    rawAttributeTypes[kv.key] = (kv.value && kv.value.value) || 'empty';
  }
  return { attributes, rawAttributeTypes };
}

function EventToJson(event) {
  return {
    timeUnixNano: event.timeUnixNano,
    name: event.name,
    ...AttributesToJson(event.attributes),
    droppedAttributesCount: event.droppedAttributesCount,
  };
}

function LinkToJson(link) {
  return {
    traceId: Base64ToHex(link.traceId),
    spanId: Base64ToHex(link.spanId),
    traceState: link.traceState,
    ...AttributesToJson(link.attributes),
    droppedAttributesCount: link.droppedAttributesCount,
    flags: link.flags,
  };
}

function SpanToJson(span) {
  return {
    traceId: Base64ToHex(span.traceId),
    spanId: Base64ToHex(span.spanId),
    parentSpanId: Base64ToHex(span.parentSpanId),
    traceState: span.traceState,
    flags: span.flags,
    name: span.name,
    kind: span.kind,
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano,
    ...AttributesToJson(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map(EventToJson),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map(LinkToJson),
    droppedLinksCount: span.droppedLinksCount,
    status: {
      code: span.status ? span.status.code : 'STATUS_CODE_UNSET',
      message: span.status ? span.status.message : '',
    },
  };
}

function ScopeToJson(scope) {
  if (!scope) return null;
  return {
    name: scope.name,
    version: scope.version,
    ...AttributesToJson(scope.attributes),
    droppedAttributesCount: scope.droppedAttributesCount,
  };
}

function ResourceToJson(resource) {
  if (!resource) return null;
  return {
    ...AttributesToJson(resource.attributes),
    droppedAttributesCount: resource.droppedAttributesCount,
  };
}

function ResourceSpansToJson(resourceSpans) {
  return {
    resource: ResourceToJson(resourceSpans.resource),
    schemaUrl: resourceSpans.schemaUrl,
    scopeSpans: resourceSpans.scopeSpans.map((scopeSpans) => ({
      scope: ScopeToJson(scopeSpans.scope),
      schemaUrl: scopeSpans.schemaUrl,
      spans: scopeSpans.spans.map(SpanToJson),
    })),
  };
}

// Decodes an ExportTraceServiceRequest body; throws on malformed protobuf.
function DecodeTraceRequest(body) {
  const message = ExportTraceServiceRequest.decode(body);
  const object = ExportTraceServiceRequest.toObject(message, kToObjectOptions);
  return object.resourceSpans.map(ResourceSpansToJson);
}

function CountSpans(resourceSpans) {
  let count = 0;
  for (const rs of resourceSpans) {
    for (const ss of rs.scopeSpans) count += ss.spans.length;
  }
  return count;
}

// An empty ExportTraceServiceResponse: full success.
function EncodeEmptyTraceResponse() {
  return Buffer.from(ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create({})).finish());
}

// An ExportTraceServiceResponse with partial_success set.
function EncodePartialSuccessResponse(rejectedSpans, errorMessage) {
  const message = ExportTraceServiceResponse.create({ partialSuccess: { rejectedSpans, errorMessage } });
  return Buffer.from(ExportTraceServiceResponse.encode(message).finish());
}

module.exports = {
  proto,
  DecodeTraceRequest,
  CountSpans,
  EncodeEmptyTraceResponse,
  EncodePartialSuccessResponse,
};
