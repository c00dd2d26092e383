// Feeds arbitrary bytes, as TCP ring-buffer records and as live sockets, to the
// decoder and the folder: a layout mismatch or garbage (any family, port,
// counters, outcome) must end in a decode error or bounded series, never a
// read past a record, a crash or unbounded memory.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "agent/net/tcp_fold.h"
#include "agent/net/tcp_records.h"

namespace {

using infrared::net::TcpFolder;

constexpr std::size_t kMaxSeries = 64;
// Scrapes between records an input may ask for: each builds every family, and
// with one wherever the input said so most of the time went to building them.
constexpr int kMaxScrapes = 4;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CollectBounded(TcpFolder& folder, const std::vector<infrared_tcp_sock>& live) {
  std::vector<infrared::telemetry::MetricFamily> families;
  folder.Collect(live, families);
  for (const auto& family : families) {
    Check(family.samples.size() <= 2 * kMaxSeries + 2);
    Check(family.histograms.size() <= 2 * kMaxSeries + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  TcpFolder::Limits limits;
  limits.max_peers_per_process = input.ConsumeIntegralInRange<std::size_t>(0, 8);
  limits.max_series = kMaxSeries;
  limits.max_open_sockets = 32;
  TcpFolder folder(limits, [](std::uint32_t pid) -> std::optional<infrared::net::TcpProcessNames> {
    if (pid % 3 == 0) return std::nullopt;  // a process already gone
    return infrared::net::TcpProcessNames{"service-" + std::to_string(pid % 5), "exe"};
  });
  std::vector<infrared_tcp_sock> live;
  int scrapes = 0;
  while (input.remaining_bytes() > 0) {
    const std::string record = input.ConsumeRandomLengthString(2 * sizeof(infrared_tcp_record));
    infrared::net::TcpDecodeError error{};
    const std::optional<infrared_tcp_record> decoded =
        infrared::net::DecodeTcpRecord(record.data(), record.size(), error);
    if (!decoded) {
      Check(infrared::net::TcpDecodeErrorName(error)[0] != '\0');
      continue;
    }
    Check(record.size() >= sizeof(infrared_tcp_record));
    if (decoded->type == INFRARED_TCP_CONNECT) folder.OnConnect(*decoded);
    if (decoded->type == INFRARED_TCP_CLOSE) folder.OnClose(*decoded);
    if (live.size() < 16) live.push_back(decoded->sock);
    // A scrape between records where the input says so, a few at most, and
    // one at the end.
    if (input.ConsumeBool() && scrapes < kMaxScrapes) {
      ++scrapes;
      CollectBounded(folder, live);
    }
  }
  CollectBounded(folder, live);
  return 0;
}
