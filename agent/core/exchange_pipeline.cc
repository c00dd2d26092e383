#include "agent/core/exchange_pipeline.h"

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "agent/genai/detect.h"
#include "agent/genai/prices.h"
#include "agent/net/sock_events.h"

namespace infrared::core {
namespace {

constexpr std::uint64_t kExpireEveryNs = 1'000'000'000;

genai::Gateways GatewaysOf(const Config& config) {
  genai::Gateways gateways;
  for (const std::string& pair : config.genai_gateways) {
    const std::size_t equals = pair.find('=');
    gateways.hosts.emplace_back(pair.substr(0, equals), pair.substr(equals + 1));
  }
  return gateways;
}

}  // namespace

ExchangePipeline::ExchangePipeline(Dependencies deps)
    : deps_(std::move(deps)),
      sock_events_{&deps_.self.EventCounter("sock_open"), &deps_.self.EventCounter("sock_data"),
                   &deps_.self.EventCounter("sock_close"), &deps_.self.EventCounter("sock_library"),
                   &deps_.self.EventCounter("sock_tls_socket")} {}

ExchangePipeline::~ExchangePipeline() = default;

std::unique_ptr<ExchangePipeline> ExchangePipeline::Create(const Config& config,
                                                           Dependencies deps,
                                                           std::string& error) {
  std::unique_ptr<ExchangePipeline> pipeline(new ExchangePipeline(std::move(deps)));
  ExchangePipeline* raw = pipeline.get();
  telemetry::SelfMetrics& self = raw->deps_.self;
  std::optional<semantics::RouteMatcher> routes;
  if (!config.http_route_patterns.empty()) {
    routes = semantics::RouteMatcher::Create(config.http_route_patterns, error);
    if (!routes) return nullptr;
  }
  if (config.genai_enabled) {
    std::optional<genai::PriceTable> prices = genai::LoadPrices(config.genai_prices_file, error);
    if (!prices) return nullptr;
    semantics::GenAiObserver::Options options;
    options.gateways = GatewaysOf(config);
    options.reader.capture_content = config.capture_content;
    options.content_max_bytes = config.capture_content_max_bytes;
    options.on_dropped = [&self](const char* stage, const std::string& reason,
                                 std::uint64_t count) {
      self.Dropped(stage, reason, static_cast<double>(count));
    };
    for (const char* problem : {"truncated", "capped", "unsupported_encoding", "decode_error"}) {
      self.Dropped("genai_body", problem, 0);
    }
    for (const char* loss : {"oversized_line", "truncated_event", "unterminated_event"}) {
      self.Dropped("genai_stream", loss, 0);
    }
    self.Dropped("genai", "model_over_cap", 0);
    raw->genai_ = std::make_unique<semantics::GenAiObserver>(raw->deps_.registry,
                                                             std::move(*prices), options);
  }
  process::ProcessTable& table = raw->deps_.table;
  raw->observer_ = std::make_unique<semantics::HttpObserver>(semantics::HttpObserver::Dependencies{
      .registry = raw->deps_.registry,
      .calls = raw->genai_.get(),
      .spans = raw->deps_.spans,
      .ids = raw->deps_.ids,
      .process = [&table](std::uint32_t pid) { return table.FindIdentity(pid); },
      .to_unix_ns = raw->deps_.to_unix_ns,
      .on_span_dropped = [&self] { self.Dropped("spans", "queue_full"); },
      .on_llm_call = [&table](std::uint32_t pid) { table.MarkLlmCaller(pid); },
      .host_name = raw->deps_.host_name,
      .routes = std::move(routes),
      // Series that never expire keep their routes' places for good.
      .route_idle_ns = config.metrics_series_idle_seconds == 0
                           ? ~std::uint64_t{0}
                           : std::uint64_t{config.metrics_series_idle_seconds} * 1'000'000'000,
      .on_route_folded = [&self] { self.Dropped("http", "route_over_cap"); },
  });
  raw->tracker_ = std::make_unique<net::ConnTracker>(
      TrackerLimitsOf(config), *raw->observer_, raw->deps_.decisions,
      [&self](const char* reason, std::uint64_t count) {
        self.Dropped("conn_tracker", reason, static_cast<double>(count));
      });
  // The drop series exist from the start, at 0.
  for (const char* reason :
       {"table_full", "request_untracked", "connection_expired", "idle_over_cap", "request_lost",
        "response_lost", "exchange_lost", "pending_overflow", "stream_gap", "parser_resync"}) {
    self.Dropped("conn_tracker", reason, 0);
  }
  self.Dropped("http", "route_over_cap", 0);
  for (auto decode_error :
       {net::SockDecodeError::kTruncated, net::SockDecodeError::kUnknownType,
        net::SockDecodeError::kBadLength, net::SockDecodeError::kBadDirection}) {
    self.Dropped("sock_ringbuf", net::SockDecodeErrorName(decode_error), 0);
  }
  if (raw->deps_.spans) self.Dropped("spans", "queue_full", 0);
  return pipeline;
}

net::TrackerLimits ExchangePipeline::TrackerLimitsOf(const Config& config) {
  net::TrackerLimits limits;
  limits.max_connections = config.http_max_connections;
  limits.max_dormant = config.http_max_connections;
  limits.idle_ns = std::uint64_t{config.http_connection_idle_seconds} * 1'000'000'000;
  if (config.genai_enabled) {
    // LLM calls keep long bodies: their usage comes at the end of the response.
    limits.parser.full_body_capture_bytes = config.genai_max_body_bytes;
    limits.parser.follows_closely = [gateways = GatewaysOf(config)](std::string_view method,
                                                                    std::string_view target) {
      return genai::DetectCall(method, target, "", {}, gateways).has_value();
    };
  }
  return limits;
}

void ExchangePipeline::OnRecord(const void* data, std::size_t size) {
  std::visit(
      [this](const auto& event) {
        using Event = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<Event, net::OpenEvent>) {
          sock_events_[kOpen]->Inc();
          tracker_->OnOpen(event);
        } else if constexpr (std::is_same_v<Event, net::DataEvent>) {
          sock_events_[kData]->Inc();
          tracker_->OnData(event);
        } else if constexpr (std::is_same_v<Event, net::CloseEvent>) {
          sock_events_[kClose]->Inc();
          tracker_->OnClose(event);
        } else if constexpr (std::is_same_v<Event, net::LibraryEvent>) {
          sock_events_[kLibrary]->Inc();
          if (deps_.on_library) deps_.on_library(event.pid);
        } else if constexpr (std::is_same_v<Event, net::TlsSocketEvent>) {
          sock_events_[kTlsSocket]->Inc();
          tracker_->OnTlsSocket(event);
        } else {
          deps_.self.Dropped("sock_ringbuf", net::SockDecodeErrorName(event));
        }
      },
      net::DecodeSockEvent(data, size));
}

void ExchangePipeline::AfterDrain(std::uint64_t now_ns) {
  if (next_expiry_ns_ == 0) next_expiry_ns_ = now_ns + kExpireEveryNs;
  if (now_ns >= next_expiry_ns_) {
    tracker_->Expire(now_ns);
    next_expiry_ns_ = now_ns + kExpireEveryNs;
  }
}

}  // namespace infrared::core
