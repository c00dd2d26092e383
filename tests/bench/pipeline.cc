#include "tests/bench/pipeline.h"

#include <chrono>
#include <type_traits>
#include <utility>
#include <variant>

#include "agent/core/config.h"
#include "agent/genai/detect.h"
#include "agent/genai/prices.h"
#include "agent/net/sock_events.h"

namespace infrared::bench {
namespace {

constexpr std::uint64_t kExpireEveryNs = 1'000'000'000;  // as HttpCapture::PollLoop
constexpr std::size_t kSpanBatch = 256;                  // as HttpCapture::ExportLoop

}  // namespace

// Counts exchanges on their way to the HTTP observer.
class Pipeline::Sink : public net::ExchangeSink {
 public:
  Sink(net::ExchangeSink& next, Tally& tally) : next_(next), tally_(tally) {}
  void OnExchange(const net::ConnectionInfo& connection,
                  protocols::http1::Exchange exchange) override {
    ++tally_.exchanges;
    if (exchange.response.status_code == 0) ++tally_.unanswered;
    next_.OnExchange(connection, std::move(exchange));
  }

 private:
  net::ExchangeSink& next_;
  Tally& tally_;
};

// Counts the exchanges the GenAI observer takes as LLM calls.
class Pipeline::CountingCalls : public semantics::ClientCallObserver {
 public:
  CountingCalls(semantics::ClientCallObserver& next, Tally& tally) : next_(next), tally_(tally) {}
  bool Observe(const protocols::http1::Exchange& exchange, const semantics::CallContext& context,
               telemetry::Span* span) override {
    const bool taken = next_.Observe(exchange, context, span);
    if (taken) ++tally_.llm_calls;
    return taken;
  }

 private:
  semantics::ClientCallObserver& next_;
  Tally& tally_;
};

Pipeline::Pipeline()
    : self_(registry_, "bench"),
      sock_events_{&self_.EventCounter("sock_open"), &self_.EventCounter("sock_data"),
                   &self_.EventCounter("sock_close"), &self_.EventCounter("sock_library")} {}

std::unique_ptr<Pipeline> Pipeline::Create(process::ProcessTable& table, Options options,
                                           std::string& error) {
  std::unique_ptr<Pipeline> pipeline(new Pipeline());
  Pipeline* raw = pipeline.get();
  const core::Config config;  // the defaults: genai on, no gateways, no routes
  if (options.spans) raw->spans_ = std::make_unique<telemetry::SpanQueue>(config.spans_queue_size);

  std::optional<genai::PriceTable> prices = genai::LoadPrices(config.genai_prices_file, error);
  if (!prices) return nullptr;
  semantics::GenAiObserver::Options genai_options;
  genai_options.reader.capture_content = config.capture_content;
  genai_options.content_max_bytes = config.capture_content_max_bytes;
  genai_options.on_body_problem = [raw](const std::string& problem) {
    raw->self_.Dropped("genai_body", problem);
  };
  raw->genai_ =
      std::make_unique<semantics::GenAiObserver>(raw->registry_, std::move(*prices), genai_options);
  raw->calls_ = std::make_unique<CountingCalls>(*raw->genai_, raw->tally_);

  raw->observer_ = std::make_unique<semantics::HttpObserver>(semantics::HttpObserver::Dependencies{
      .registry = raw->registry_,
      .calls = raw->calls_.get(),
      .spans = raw->spans_.get(),
      .ids = raw->ids_,
      .process = [&table](std::uint32_t pid) { return table.FindIdentity(pid); },
      .to_unix_ns = [raw](std::uint64_t ns) { return raw->to_unix_(ns); },
      .on_span_dropped = [raw] { raw->self_.Dropped("spans", "queue_full"); },
      .on_llm_call = [&table](std::uint32_t pid) { table.MarkLlmCaller(pid); },
      .host_name = "bench-host",
      .routes = std::nullopt,
      .max_routes_per_service = 256,
      .route_idle_ns = 3600'000'000'000,
      .on_route_folded = [raw] { raw->self_.Dropped("http", "route_over_cap"); },
  });
  raw->sink_ = std::make_unique<Sink>(*raw->observer_, raw->tally_);

  raw->tracker_ = std::make_unique<net::ConnTracker>(
      DefaultTrackerLimits(), *raw->sink_, *raw, [raw](const char* reason, std::uint64_t count) {
        raw->self_.Dropped("conn_tracker", reason, static_cast<double>(count));
      });
  return pipeline;
}

Pipeline::~Pipeline() = default;

net::TrackerLimits Pipeline::DefaultTrackerLimits() {
  const core::Config config;
  net::TrackerLimits limits;
  limits.max_connections = config.http_max_connections;
  limits.idle_ns = std::uint64_t{config.http_connection_idle_seconds} * 1'000'000'000;
  // genai is on by default: LLM calls keep long bodies.
  limits.parser.full_body_capture_bytes = config.genai_max_body_bytes;
  limits.parser.follows_closely = [](std::string_view method, std::string_view target) {
    return genai::DetectCall(method, target, "", {}, genai::Gateways{}).has_value();
  };
  return limits;
}

void Pipeline::OnRecord(const void* data, std::size_t size) {
  ++tally_.records;
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
          sock_events_[kLibrary]->Inc();  // the TLS capture's work is not part of this pipeline
        } else {
          ++tally_.decode_errors;
          self_.Dropped("sock_ringbuf", net::SockDecodeErrorName(event));
        }
      },
      net::DecodeSockEvent(data, size));
}

void Pipeline::AfterBatch(std::uint64_t now_ns) {
  if (now_ns >= next_expiry_ns_) {
    tracker_->Expire(now_ns);
    next_expiry_ns_ = now_ns + kExpireEveryNs;
  }
  tracked_connections_ = tracker_->Size();
}

std::size_t Pipeline::DrainSpans() {
  if (!spans_) return 0;
  std::size_t drained = 0;
  for (;;) {
    batch_.clear();
    const std::size_t popped = spans_->PopBatch(batch_, kSpanBatch, std::chrono::milliseconds(0));
    if (popped == 0) break;
    drained += popped;
  }
  tally_.spans += drained;
  return drained;
}

void Pipeline::Skip(const net::ConnId& /*conn*/) { ++tally_.skips; }

void Pipeline::FollowClosely(const net::ConnId& /*conn*/) { ++tally_.follow_closely; }

}  // namespace infrared::bench
