// ExchangePipeline end to end without a kernel: ring-buffer records as the
// socket probes write them (include/infrared/abi/sockdata.h) in, metrics,
// spans, decisions and drop counts out.
#include "agent/core/exchange_pipeline.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "infrared/abi/sockdata.h"

namespace infrared::core {
namespace {

class Decisions : public net::ConnDecisions {
 public:
  void Skip(const net::ConnId& conn) override { skipped.push_back(conn); }
  void FollowClosely(const net::ConnId& conn) override { followed.push_back(conn); }
  std::vector<net::ConnId> skipped;
  std::vector<net::ConnId> followed;
};

infrared_sock_header Header(std::uint32_t type, std::int32_t fd, std::uint64_t ts) {
  infrared_sock_header header{};
  header.type = type;
  header.tid = 42;
  header.conn = {42, fd, 7};
  header.timestamp_ns = ts;
  return header;
}

class ExchangePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    pipeline_ = ExchangePipeline::Create(
        Config{},
        ExchangePipeline::Dependencies{
            .registry = registry_,
            .self = self_,
            .table = table_,
            .decisions = decisions_,
            .spans = &spans_,
            .ids = ids_,
            .to_unix_ns = [](std::uint64_t ns) { return ns; },
            .on_library = [this](std::uint32_t pid) { libraries_.push_back(pid); },
            .host_name = "test-host",
        },
        error);
    ASSERT_NE(pipeline_, nullptr) << error;
  }

  void Open(std::int32_t fd, std::uint32_t role, std::uint64_t ts) {
    infrared_sock_open_event event{};
    event.header = Header(INFRARED_SOCK_OPEN, fd, ts);
    event.role = role;
    event.family = 2;  // AF_INET
    event.local_port = 8080;
    event.remote_port = 40000;
    pipeline_->OnRecord(&event, sizeof(event));
  }

  // One whole call, in one event.
  void Call(std::int32_t fd, std::uint32_t direction, std::string_view bytes, std::uint64_t ts) {
    infrared_sock_data_event event{};
    event.header = Header(INFRARED_SOCK_DATA, fd, ts);
    event.direction = direction;
    event.flags = INFRARED_SOCK_LAST;
    event.call_bytes = bytes.size();
    event.captured = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(event.data, bytes.data(), bytes.size());
    pipeline_->OnRecord(&event, offsetof(infrared_sock_data_event, data) + bytes.size());
  }

  void Close(std::int32_t fd, std::uint64_t ts) {
    infrared_sock_close_event event{};
    event.header = Header(INFRARED_SOCK_CLOSE, fd, ts);
    pipeline_->OnRecord(&event, sizeof(event));
  }

  // The histogram count of `family` over every series, and the sample value
  // of infrared_dropped{stage, reason}.
  std::uint64_t Count(std::string_view family) {
    std::uint64_t count = 0;
    for (const telemetry::MetricFamily& f : registry_.Collect()) {
      if (f.name != family) continue;
      for (const telemetry::HistogramSample& sample : f.histograms) count += sample.count;
    }
    return count;
  }
  double Dropped(std::string_view stage, std::string_view reason) {
    for (const telemetry::MetricFamily& f : registry_.Collect()) {
      if (f.name != telemetry::kDroppedFamily) continue;
      for (const telemetry::Sample& sample : f.samples) {
        bool stage_matches = false;
        bool reason_matches = false;
        for (const telemetry::Label& label : sample.labels) {
          stage_matches = stage_matches || (label.name == "stage" && label.value == stage);
          reason_matches = reason_matches || (label.name == "reason" && label.value == reason);
        }
        if (stage_matches && reason_matches) return sample.value;
      }
    }
    return -1;  // no such series
  }

  telemetry::MetricRegistry registry_;
  telemetry::SelfMetrics self_{registry_, "test"};
  process::ProcessTable table_{16, [](const char*) {}};
  Decisions decisions_;
  telemetry::SpanQueue spans_{16};
  telemetry::RandomIdGenerator ids_{1};
  std::vector<std::uint32_t> libraries_;
  std::unique_ptr<ExchangePipeline> pipeline_;
};

TEST_F(ExchangePipelineTest, AServedExchangeBecomesMetricsAndASpan) {
  Open(5, INFRARED_ROLE_ACCEPT, 1000);
  Call(5, INFRARED_DIR_INGRESS, "GET /users/7 HTTP/1.1\r\nHost: a\r\n\r\n", 2000);
  Call(5, INFRARED_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 3000);
  Close(5, 4000);
  EXPECT_EQ(Count("http_server_request_duration_seconds"), 1u);
  EXPECT_EQ(Count("http_client_request_duration_seconds"), 0u);
  std::vector<telemetry::Span> spans;
  ASSERT_EQ(spans_.PopBatch(spans, 16, std::chrono::milliseconds(0)), 1u);
  EXPECT_EQ(spans[0].name, "GET /users/{id}");
  EXPECT_EQ(pipeline_->tracker().Size(), 0u);  // closed
}

TEST_F(ExchangePipelineTest, DropSeriesExistFromTheStart) {
  for (const char* reason : {"table_full", "connection_expired", "request_lost", "response_lost",
                             "exchange_lost", "pending_overflow", "stream_gap", "parser_resync"}) {
    EXPECT_EQ(Dropped("conn_tracker", reason), 0) << reason;
  }
  EXPECT_EQ(Dropped("sock_ringbuf", "truncated"), 0);
  EXPECT_EQ(Dropped("spans", "queue_full"), 0);
  EXPECT_EQ(Dropped("http", "route_over_cap"), 0);
}

TEST_F(ExchangePipelineTest, ARecordThatDoesNotDecodeIsCounted) {
  const char bytes[3] = {1, 2, 3};
  pipeline_->OnRecord(bytes, sizeof(bytes));
  EXPECT_EQ(Dropped("sock_ringbuf", "truncated"), 1);
}

TEST_F(ExchangePipelineTest, NotHttpIsSkippedAndLibrariesAreHandedOn) {
  Open(6, INFRARED_ROLE_CONNECT, 1000);
  Call(6, INFRARED_DIR_EGRESS, std::string_view("\x00\x01\x02\x03 binary", 10), 2000);
  ASSERT_EQ(decisions_.skipped.size(), 1u);
  EXPECT_EQ(decisions_.skipped[0].fd, 6);

  infrared_sock_library_event library{};
  library.header = Header(INFRARED_SOCK_LIBRARY, 3, 3000);
  pipeline_->OnRecord(&library, sizeof(library));
  EXPECT_EQ(libraries_, std::vector<std::uint32_t>{42});
}

TEST_F(ExchangePipelineTest, AnIdleConnectionExpiresWithItsRequestCounted) {
  Open(7, INFRARED_ROLE_ACCEPT, 1000);
  Call(7, INFRARED_DIR_INGRESS, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 2000);
  ASSERT_EQ(pipeline_->tracker().Size(), 1u);
  const std::uint64_t idle_ns = std::uint64_t{Config{}.http_connection_idle_seconds} * 1'000'000'000;
  pipeline_->AfterDrain(2000);                // the first drain only sets the clock
  pipeline_->AfterDrain(2000 + idle_ns / 2);  // idle, but not long enough
  EXPECT_EQ(pipeline_->tracker().Size(), 1u);
  pipeline_->AfterDrain(2000 + 2 * idle_ns);
  EXPECT_EQ(pipeline_->tracker().Size(), 0u);
  EXPECT_EQ(Dropped("conn_tracker", "connection_expired"), 1);  // its request never answered
}

}  // namespace
}  // namespace infrared::core
