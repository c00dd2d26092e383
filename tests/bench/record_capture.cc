// Records a capture for infrared_pipeline_bench from the real kernel: loads the socket
// probes as the agent does (bpf/sockdata.bpf.c, plain TCP; TLS plaintext is not
// recorded), writes every ring-buffer record to a file, and tells the kernel which
// connections are not HTTP as the agent's tracker would, so the capture holds what the
// agent would have been handed. Needs root.
//
//   infrared_record_capture --out=FILE [--seconds=10] [--executables=wrk,nginx]
//
// --executables: only processes with these executable names (running ones are found
// in /proc; later ones are selected by the kernel at exec). Connections still open
// at the end get a CLOSE record, so that the capture can be replayed in a loop.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <variant>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/logging.h"
#include "agent/loader/sock_probes.h"
#include "agent/net/conn_tracker.h"
#include "agent/process/proc_reader.h"
#include "tests/bench/capture_file.h"
#include "tests/bench/pipeline.h"

namespace infrared::bench {
namespace {

struct Flags {
  std::string out;
  int seconds = 10;
  std::vector<std::string> executables;
};

std::optional<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&arg](std::string_view name) -> std::optional<std::string> {
      if (!arg.starts_with(name)) return std::nullopt;
      return std::string(arg.substr(name.size()));
    };
    if (auto out = value("--out=")) {
      flags.out = *out;
    } else if (auto seconds = value("--seconds=")) {
      flags.seconds = std::atoi(seconds->c_str());
    } else if (auto names = value("--executables=")) {
      for (std::size_t start = 0; start <= names->size();) {
        const std::size_t comma = std::min(names->find(',', start), names->size());
        if (comma > start) flags.executables.push_back(names->substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      return std::nullopt;
    }
  }
  if (flags.out.empty() || flags.seconds <= 0) return std::nullopt;
  return flags;
}

// The tracker's decisions go to the kernel, as HttpCapture's do.
class Decisions : public net::ConnDecisions, public net::ExchangeSink {
 public:
  loader::SockProbes* probes = nullptr;
  void Skip(const net::ConnId& conn) override { probes->Skip(conn); }
  void FollowClosely(const net::ConnId& conn) override { probes->FollowClosely(conn); }
  void OnExchange(const net::ConnectionInfo&, protocols::http1::Exchange) override {}
};

int Record(const Flags& flags) {
  core::Config config;
  config.capture_executables = flags.executables;
  core::Logger logger(core::LogFormat::kText, core::LogLevel::kWarn);
  std::string error;
  std::optional<CaptureWriter> writer = CaptureWriter::Create(flags.out, error);
  if (!writer) {
    std::fprintf(stderr, "infrared_record_capture: %s\n", error.c_str());
    return 1;
  }
  Decisions decisions;
  net::ConnTracker tracker(Pipeline::DefaultTrackerLimits(), decisions, decisions,
                           [](const char*, std::uint64_t) {});
  std::unordered_set<net::ConnId, net::ConnIdHash> open;
  std::uint64_t last_ns = 0;
  auto on_record = [&](const void* data, std::size_t size) {
    writer->Append(data, size);
    std::visit(
        [&](const auto& event) {
          using Event = std::decay_t<decltype(event)>;
          if constexpr (std::is_same_v<Event, net::OpenEvent>) {
            open.insert(event.conn);
            tracker.OnOpen(event);
          } else if constexpr (std::is_same_v<Event, net::DataEvent>) {
            open.insert(event.conn);
            last_ns = std::max(last_ns, event.timestamp_ns);
            tracker.OnData(event);
          } else if constexpr (std::is_same_v<Event, net::CloseEvent>) {
            open.erase(event.conn);
            tracker.OnClose(event);
          }
        },
        net::DecodeSockEvent(data, size));
  };
  std::unique_ptr<loader::SockProbes> probes =
      loader::SockProbes::Create(config, logger, on_record, error);
  if (!probes) {
    std::fprintf(stderr, "infrared_record_capture: %s (run it as root)\n", error.c_str());
    return 1;
  }
  decisions.probes = probes.get();
  if (!flags.executables.empty()) {
    const process::ProcReader proc;
    const std::unordered_set<std::string> names(flags.executables.begin(), flags.executables.end());
    for (std::uint32_t pid : proc.ListPids()) {
      std::optional<std::string> name = proc.ExecutableName(pid);
      if (name && names.count(*name)) probes->Select(pid, true);
    }
  }
  std::fprintf(stderr, "infrared_record_capture: recording for %d s into %s (Ctrl-C stops)\n",
               flags.seconds, flags.out.c_str());
  // SIGINT and SIGTERM stay pending until the loop looks for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  const timespec no_wait{};
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(flags.seconds);
  while (std::chrono::steady_clock::now() < end && sigtimedwait(&stop, nullptr, &no_wait) < 0) {
    int handled = probes->Poll(100);
    if (handled >= 0) handled = probes->Consume();
    if (handled < 0 && handled != -EINTR) {
      std::fprintf(stderr, "infrared_record_capture: polling failed (%s)\n",
                   std::strerror(-handled));
      break;
    }
  }
  if (const std::uint64_t full = probes->Drops()[INFRARED_SOCK_DROP_RINGBUF_FULL]; full > 0) {
    std::fprintf(stderr,
                 "infrared_record_capture: the ring buffer overflowed %llu times: the capture has "
                 "holes (record fewer processes, or a lighter load)\n",
                 static_cast<unsigned long long>(full));
  }
  probes.reset();  // detached: nothing more arrives
  for (const net::ConnId& conn : open) {
    infrared_sock_close_event close{};
    close.header = {INFRARED_SOCK_CLOSE, conn.pid, {conn.pid, conn.fd, conn.generation}, last_ns};
    writer->Append(&close, sizeof(close));
  }
  const std::size_t records = writer->records();
  if (!writer->Close()) {
    std::fprintf(stderr, "infrared_record_capture: writing %s failed\n", flags.out.c_str());
    return 1;
  }
  std::fprintf(stderr, "infrared_record_capture: %zu records (%zu closes added) in %s\n", records,
               open.size(), flags.out.c_str());
  return 0;
}

}  // namespace
}  // namespace infrared::bench

int main(int argc, char** argv) {
  std::optional<infrared::bench::Flags> flags = infrared::bench::ParseFlags(argc, argv);
  if (!flags) {
    std::fprintf(stderr,
                 "usage: infrared_record_capture --out=FILE [--seconds=10] "
                 "[--executables=name,name]\n");
    return 2;
  }
  return infrared::bench::Record(*flags);
}
