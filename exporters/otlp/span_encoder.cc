#include "exporters/otlp/span_encoder.h"

#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>

#include "agent/core/utf8.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace infrared::otlp {
namespace {

namespace common_v1 = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;
namespace collector_v1 = opentelemetry::proto::collector::trace::v1;

using telemetry::Attribute;
using telemetry::AttributeValue;
using KeyValues = google::protobuf::RepeatedPtrField<common_v1::KeyValue>;

const std::vector<Attribute>& ResourceAttributes(const telemetry::Span& span) {
  static const std::vector<Attribute> kNoAttributes;
  return span.resource ? span.resource->attributes : kNoAttributes;
}

// Doubles compare by bit pattern so that grouping agrees with the hash (and a
// NaN-valued resource still groups with itself).
bool SameValue(const AttributeValue& a, const AttributeValue& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    return std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(std::get<double>(b));
  }
  return a == b;
}

bool SameAttributes(const std::vector<Attribute>& a, const std::vector<Attribute>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Attribute& x, const Attribute& y) {
                      return x.key == y.key && SameValue(x.value, y.value);
                    });
}

std::size_t HashAttributes(const std::vector<Attribute>& attributes) {
  std::size_t seed = attributes.size();
  auto mix = [&seed](std::size_t hash) {
    seed ^= hash + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  };
  for (const Attribute& attribute : attributes) {
    mix(std::hash<std::string>{}(attribute.key));
    mix(attribute.value.index());
    std::visit(
        [&mix](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, double>) {
            mix(std::hash<std::uint64_t>{}(std::bit_cast<std::uint64_t>(value)));
          } else if constexpr (std::is_same_v<T, telemetry::StringArray>) {
            for (const std::string& item : value) mix(std::hash<std::string>{}(item));
          } else {
            mix(std::hash<T>{}(value));
          }
        },
        attribute.value);
  }
  return seed;
}

void SetValue(const AttributeValue& value, common_v1::AnyValue& out) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.set_string_value(core::SanitizeUtf8(v));
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out.set_int_value(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out.set_double_value(v);
        } else if constexpr (std::is_same_v<T, telemetry::StringArray>) {
          common_v1::ArrayValue* array = out.mutable_array_value();
          for (const std::string& item : v) {
            array->add_values()->set_string_value(core::SanitizeUtf8(item));
          }
        } else {
          static_assert(std::is_same_v<T, bool>, "unmapped attribute value type");
          out.set_bool_value(v);
        }
      },
      value);
}

void AddAttributes(const std::vector<Attribute>& attributes, KeyValues& out) {
  out.Reserve(out.size() + static_cast<int>(attributes.size()));
  for (const Attribute& attribute : attributes) {
    common_v1::KeyValue* key_value = out.Add();
    key_value->set_key(core::SanitizeUtf8(attribute.key));
    SetValue(attribute.value, *key_value->mutable_value());
  }
}

template <std::size_t N>
std::string IdBytes(const std::array<std::uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

trace_v1::Span::SpanKind ToProtoKind(telemetry::SpanKind kind) {
  switch (kind) {
    case telemetry::SpanKind::kInternal:
      return trace_v1::Span::SPAN_KIND_INTERNAL;
    case telemetry::SpanKind::kServer:
      return trace_v1::Span::SPAN_KIND_SERVER;
    case telemetry::SpanKind::kClient:
      return trace_v1::Span::SPAN_KIND_CLIENT;
    case telemetry::SpanKind::kProducer:
      return trace_v1::Span::SPAN_KIND_PRODUCER;
    case telemetry::SpanKind::kConsumer:
      return trace_v1::Span::SPAN_KIND_CONSUMER;
  }
  return trace_v1::Span::SPAN_KIND_UNSPECIFIED;
}

trace_v1::Status::StatusCode ToProtoStatus(telemetry::StatusCode code) {
  switch (code) {
    case telemetry::StatusCode::kUnset:
      return trace_v1::Status::STATUS_CODE_UNSET;
    case telemetry::StatusCode::kOk:
      return trace_v1::Status::STATUS_CODE_OK;
    case telemetry::StatusCode::kError:
      return trace_v1::Status::STATUS_CODE_ERROR;
  }
  return trace_v1::Status::STATUS_CODE_UNSET;
}

void EncodeSpan(const telemetry::Span& span, trace_v1::Span& out) {
  out.set_trace_id(IdBytes(span.trace_id));
  out.set_span_id(IdBytes(span.span_id));
  if (!telemetry::IsZero(span.parent_span_id)) out.set_parent_span_id(IdBytes(span.parent_span_id));
  out.set_trace_state(core::SanitizeUtf8(span.trace_state));
  out.set_flags(span.trace_flags & trace_v1::SPAN_FLAGS_TRACE_FLAGS_MASK);
  out.set_name(core::SanitizeUtf8(span.name));
  out.set_kind(ToProtoKind(span.kind));
  out.set_start_time_unix_nano(span.start_unix_ns);
  out.set_end_time_unix_nano(span.end_unix_ns);
  AddAttributes(span.attributes, *out.mutable_attributes());
  // An absent Status already means UNSET; the description belongs to errors only.
  if (span.status != telemetry::StatusCode::kUnset) {
    trace_v1::Status* status = out.mutable_status();
    status->set_code(ToProtoStatus(span.status));
    if (span.status == telemetry::StatusCode::kError) {
      status->set_message(core::SanitizeUtf8(span.status_message));
    }
  }
}

// Finds or creates the ScopeSpans a span belongs in. Looks the resource up by
// pointer first (the common case: a process's spans share one Resource), then
// by content.
class ResourceGrouper {
 public:
  ResourceGrouper(ExportTraceServiceRequest& request, const ScopeInfo& scope)
      : request_(request), scope_(scope) {}

  trace_v1::ScopeSpans& ScopeSpansFor(const telemetry::Span& span) {
    const telemetry::Resource* resource = span.resource.get();
    if (auto it = by_pointer_.find(resource); it != by_pointer_.end()) return *it->second;

    const std::vector<Attribute>& attributes = ResourceAttributes(span);
    const std::size_t hash = HashAttributes(attributes);
    trace_v1::ScopeSpans* scope_spans = nullptr;
    auto [first, last] = by_content_.equal_range(hash);
    for (auto it = first; it != last; ++it) {
      if (SameAttributes(*it->second.attributes, attributes)) {
        scope_spans = it->second.scope_spans;
        break;
      }
    }
    if (scope_spans == nullptr) {
      scope_spans = AddResourceSpans(attributes);
      by_content_.emplace(hash, Group{&attributes, scope_spans});
    }
    by_pointer_.emplace(resource, scope_spans);
    return *scope_spans;
  }

 private:
  struct Group {
    const std::vector<Attribute>* attributes;  // owned by a span of the batch
    trace_v1::ScopeSpans* scope_spans;         // owned by request_; elements never move
  };

  trace_v1::ScopeSpans* AddResourceSpans(const std::vector<Attribute>& attributes) {
    trace_v1::ResourceSpans* resource_spans = request_.add_resource_spans();
    if (!attributes.empty()) {
      AddAttributes(attributes, *resource_spans->mutable_resource()->mutable_attributes());
    }
    trace_v1::ScopeSpans* scope_spans = resource_spans->add_scope_spans();
    common_v1::InstrumentationScope* scope = scope_spans->mutable_scope();
    scope->set_name(scope_.name);
    scope->set_version(scope_.version);
    return scope_spans;
  }

  ExportTraceServiceRequest& request_;
  const ScopeInfo& scope_;
  std::unordered_map<const telemetry::Resource*, trace_v1::ScopeSpans*> by_pointer_;
  std::unordered_multimap<std::size_t, Group> by_content_;
};

}  // namespace

ExportTraceServiceRequest EncodeSpans(const std::vector<telemetry::Span>& spans,
                                      const ScopeInfo& scope) {
  ExportTraceServiceRequest request;
  ResourceGrouper grouper(request, scope);
  for (const telemetry::Span& span : spans) {
    EncodeSpan(span, *grouper.ScopeSpansFor(span).add_spans());
  }
  return request;
}

std::string SerializeRequest(const ExportTraceServiceRequest& request) {
  std::string body;
  // Fails only past protobuf's 2 GiB message limit, far beyond any batch.
  if (!request.SerializeToString(&body)) body.clear();
  return body;
}

bool ParsePartialSuccess(std::string_view body, std::int64_t& rejected, std::string& message) {
  rejected = 0;
  message.clear();
  if (body.size() > static_cast<std::size_t>(INT_MAX)) return false;
  collector_v1::ExportTraceServiceResponse response;
  // The body comes from the collector: a message that is not UTF-8 makes the
  // parse fail, and the caller reports it; protobuf's own line on stderr,
  // once per response, would only break the agent's log format.
  const google::protobuf::LogSilencer quiet;
  if (!response.ParseFromArray(body.data(), static_cast<int>(body.size()))) return false;
  rejected = response.partial_success().rejected_spans();
  message = response.partial_success().error_message();
  return true;
}

}  // namespace infrared::otlp
