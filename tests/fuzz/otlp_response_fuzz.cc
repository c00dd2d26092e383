// Plays an OTLP collector that answers whatever the input says: any status,
// any body (bytes, or a well-formed export response with any rejected count
// and message), any Retry-After header, and requests that take any time. The
// span exporter flushes a queue of spans through it on the caller's thread
// (Shutdown without Start), on a clock of the harness's own, so waits take no
// time. Whatever the collector does, every span offered is counted exactly
// once (exported, rejected by the collector, failed, or dropped at the queue),
// the last error reads as printable ASCII, a Retry-After value is a bounded
// number of seconds, and a response body that parses gives back the numbers
// it was built from.
#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "exporters/otlp/batch_exporter.h"
#include "exporters/otlp/curl_transport.h"
#include "exporters/otlp/span_encoder.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace {

using namespace infrared::otlp;
using std::chrono::milliseconds;

using ExportTraceServiceResponse =
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

class FakeClock : public Clock {
 public:
  TimePoint Now() override { return now; }
  TimePoint now = TimePoint{} + std::chrono::hours(1);
};

// Waiting moves the clock to the deadline at once. The flush never waits
// without one: that would hang, so it is a failure.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
  bool WaitUntil(std::unique_lock<std::mutex>&, std::condition_variable&, Clock::TimePoint deadline,
                 const std::function<bool()>& wake) override {
    if (wake()) return true;
    Check(deadline != Clock::TimePoint::max());
    clock_.now = std::max(clock_.now, deadline);
    return wake();
  }

 private:
  FakeClock& clock_;
};

// Each Post takes its answer from the input; once the input runs out, every
// answer is an empty 200.
class FuzzedCollector : public Transport {
 public:
  FuzzedCollector(FuzzedDataProvider& input, FakeClock& clock) : input_(input), clock_(clock) {}

  HttpResponse Post(const std::string&) override {
    ++posts;
    HttpResponse response;
    clock_.now += milliseconds(input_.ConsumeIntegralInRange<int>(1, 4000));
    if (input_.remaining_bytes() == 0) {
      response.status = 200;
      return response;
    }
    static constexpr int kStatuses[] = {0, 200, 202, 204, 400, 404, 413, 429, 500, 502, 503, 504};
    response.status = input_.ConsumeBool() ? input_.PickValueInArray(kStatuses)
                                           : input_.ConsumeIntegralInRange<int>(100, 599);
    if (response.status == 0) response.error = "Couldn't connect to server";
    if (input_.ConsumeBool()) {
      ExportTraceServiceResponse built;
      const std::int64_t rejected = input_.ConsumeIntegral<std::int64_t>();
      const std::string message = input_.ConsumeRandomLengthString(300);
      if (rejected != 0 || !message.empty()) {
        built.mutable_partial_success()->set_rejected_spans(rejected);
        built.mutable_partial_success()->set_error_message(message);
      }
      {
        const google::protobuf::LogSilencer quiet;  // a message that is not UTF-8
        response.body = built.SerializeAsString();
      }
      std::int64_t parsed_rejected = -1;
      std::string parsed_message;
      // proto3 strings must be UTF-8: a message that is not fails to parse.
      if (ParsePartialSuccess(response.body, parsed_rejected, parsed_message)) {
        Check(parsed_rejected == rejected && parsed_message == message);
      } else {
        Check(parsed_rejected == 0 && parsed_message.empty());
      }
    } else {
      response.body = input_.ConsumeRandomLengthString(400);
      std::int64_t rejected = -1;
      std::string message = "x";
      if (!ParsePartialSuccess(response.body, rejected, message)) {
        Check(rejected == 0 && message.empty());
      }
    }
    if (input_.ConsumeBool()) {
      const std::string header = input_.ConsumeRandomLengthString(24);
      response.retry_after = ParseRetryAfter(header);
      if (response.retry_after) {
        Check(response.retry_after->count() >= 0 &&
              response.retry_after->count() <= kMaxRetryAfterSeconds);
      }
    }
    return response;
  }

  void FinishWithin(milliseconds) override {}

  std::size_t posts = 0;

 private:
  FuzzedDataProvider& input_;
  FakeClock& clock_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  BatchOptions options;
  options.queue_capacity = input.ConsumeIntegralInRange<std::size_t>(1, 200);
  options.max_batch = input.ConsumeIntegralInRange<std::size_t>(0, 64);
  options.initial_backoff = milliseconds(input.ConsumeIntegralInRange<int>(0, 5000));
  options.max_backoff = milliseconds(input.ConsumeIntegralInRange<int>(0, 60000));
  options.shutdown_timeout = milliseconds(input.ConsumeIntegralInRange<int>(1, 20000));
  const std::size_t offered = input.ConsumeIntegralInRange<std::size_t>(0, 300);

  FakeClock clock;
  FakeSleeper sleeper(clock);
  FuzzedCollector collector(input, clock);
  std::size_t queued = 0;
  {
    BatchExporter exporter(
        options, collector,
        [](const std::vector<infrared::telemetry::Span>& spans) {
          return std::string(spans.size(), 's');
        },
        ParsePartialSuccess, clock, sleeper,
        [&input] { return input.ConsumeProbability<double>(); });
    for (std::size_t i = 0; i < offered; ++i) {
      infrared::telemetry::Span span;
      span.name = "span";
      if (exporter.Offer(std::move(span))) ++queued;
    }
    exporter.Shutdown();
    Check(!exporter.Offer(infrared::telemetry::Span{}));
    Check(exporter.QueueSize() == 0);

    const ExportCounters counters = exporter.Counters();
    Check(queued + counters.dropped_queue_full == offered);
    Check(counters.dropped_shutdown == 1);
    Check(counters.exported + counters.rejected + counters.failed == queued);
    Check(counters.retried <= collector.posts);
    Check(counters.unreadable_responses <= collector.posts);
    for (char c : exporter.LastError()) Check(c >= 0x20 && c < 0x7f);
  }
  return 0;
}
