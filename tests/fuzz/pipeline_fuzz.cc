// The agent's whole userspace HTTP pipeline (core::ExchangePipeline, built from
// the default configuration as the agent builds it, spans on) fed the records
// the kernel would write for arbitrary traffic. As in genai_call_fuzz, the
// bytes before the first "\nHTTP/1." are what a client sends and the rest what
// it gets back; they cross two connections, one seen from the client (calls
// of up to 1,000 bytes out, 97 in) and one from the server (the reverse), each
// opened, carried and closed by well-formed socket records. Whatever the
// traffic: every record decodes, the tracker forgets both connections once
// they close, and the metrics it leaves render in both exposition formats as
// UTF-8 lines; ASan and UBSan watch the parsers, observers, LLM call reading
// and span building in between.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/prometheus/exposition.h"
#include "infrared/abi/sockdata.h"
#include "tests/bench/pipeline.h"
#include "tests/fuzz/traffic.h"

namespace {

using namespace infrared;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool IsUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int length = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (length == 0 || i + static_cast<std::size_t>(length) > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += static_cast<std::size_t>(length);
  }
  return true;
}

// Records as the kernel writes them, fed at once.
class Feeder {
 public:
  explicit Feeder(bench::Pipeline& pipeline)
      : pipeline_(pipeline), data_(std::make_unique<infrared_sock_data_event>()) {}

  void Open(std::uint32_t pid, std::int32_t fd, std::uint32_t role, std::uint16_t remote_port) {
    infrared_sock_open_event event{};
    event.header = Header(INFRARED_SOCK_OPEN, pid, fd);
    event.role = role;
    event.family = 2;  // AF_INET
    event.local_port = role == INFRARED_ROLE_ACCEPT ? remote_port : 40000;
    event.remote_port = role == INFRARED_ROLE_ACCEPT ? 40000 : remote_port;
    event.socket_fd = fd;
    const std::uint8_t loopback[4] = {127, 0, 0, 1};
    std::memcpy(event.local_addr, loopback, 4);
    std::memcpy(event.remote_addr, loopback, 4);
    Feed(&event, sizeof(event));
  }

  // `bytes` in calls of at most `call` bytes, each one data record.
  void Calls(std::uint32_t pid, std::int32_t fd, std::uint32_t direction, std::string_view bytes,
             std::size_t call) {
    for (std::size_t at = 0; at < bytes.size(); at += call) {
      const std::string_view piece = bytes.substr(at, call);
      std::memset(data_.get(), 0, offsetof(infrared_sock_data_event, data));
      data_->header = Header(INFRARED_SOCK_DATA, pid, fd);
      data_->direction = direction;
      data_->flags = INFRARED_SOCK_LAST;
      data_->call_bytes = piece.size();
      data_->captured = static_cast<std::uint32_t>(piece.size());
      std::memcpy(data_->data, piece.data(), piece.size());
      Feed(data_.get(), offsetof(infrared_sock_data_event, data) + piece.size());
    }
  }

  void Close(std::uint32_t pid, std::int32_t fd) {
    infrared_sock_close_event event{};
    event.header = Header(INFRARED_SOCK_CLOSE, pid, fd);
    Feed(&event, sizeof(event));
  }

  std::uint64_t now() const { return now_; }
  std::size_t fed() const { return fed_; }

 private:
  infrared_sock_header Header(std::uint32_t type, std::uint32_t pid, std::int32_t fd) {
    infrared_sock_header header{};
    header.type = type;
    header.tid = pid;
    header.conn.pid = pid;
    header.conn.fd = fd;
    header.conn.generation = 1;
    now_ += 1'000'000;  // a millisecond between records
    header.timestamp_ns = now_;
    return header;
  }
  void Feed(const void* record, std::size_t size) {
    pipeline_.OnRecord(record, size);
    ++fed_;
  }

  bench::Pipeline& pipeline_;
  std::unique_ptr<infrared_sock_data_event> data_;
  std::uint64_t now_ = 1'000'000'000;
  std::size_t fed_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [request, response] = fuzz::SplitTraffic(data, size);

  static process::ProcessTable table(64, [](const char*) {});
  std::string error;
  std::unique_ptr<bench::Pipeline> pipeline =
      bench::Pipeline::Create(table, bench::Pipeline::Options{.spans = true}, error);
  Check(pipeline != nullptr);
  Feeder feeder(*pipeline);
  constexpr std::uint32_t kClient = 4242, kServer = 4343;
  feeder.Open(kClient, 7, INFRARED_ROLE_CONNECT, 80);
  feeder.Open(kServer, 9, INFRARED_ROLE_ACCEPT, 80);
  feeder.Calls(kClient, 7, INFRARED_DIR_EGRESS, request, 1000);
  feeder.Calls(kServer, 9, INFRARED_DIR_INGRESS, request, 97);
  feeder.Calls(kServer, 9, INFRARED_DIR_EGRESS, response, 1000);
  feeder.Calls(kClient, 7, INFRARED_DIR_INGRESS, response, 97);
  feeder.Close(kClient, 7);
  feeder.Close(kServer, 9);
  pipeline->AfterBatch(feeder.now());
  pipeline->DrainSpans();

  Check(pipeline->tally().records == feeder.fed());
  Check(pipeline->tracker().Size() == 0);
  const bench::Pipeline::Outcome outcome = pipeline->outcome();
  Check(outcome.decode_errors == 0);
  const std::vector<telemetry::MetricFamily> families = pipeline->registry().Collect();
  for (prometheus::ExpositionFormat format :
       {prometheus::ExpositionFormat::kText004, prometheus::ExpositionFormat::kOpenMetrics100}) {
    Check(IsUtf8(prometheus::Render(families, format)));
  }
  return 0;
}
