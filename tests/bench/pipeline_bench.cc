// The userspace pipeline alone (issue 9): a capture of socket ring-buffer
// records replayed through decoding, the connection tracker and its HTTP/1 parsers,
// the HTTP observer and the GenAI observer (SSE parsing of streamed LLM responses),
// wired as agent/core/http_capture.cc wires them, without BPF. One iteration is one
// pass over the capture; "events" is records per second of CPU time, so per core.
//
//   infrared_pipeline_bench [--capture=FILE] [Google Benchmark flags]
//
// The default capture is tests/bench/data/http_mix.ircap, written by infrared_make_capture
// (tests/bench/make_capture.cc); infrared_record_capture records one from the kernel.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "agent/core/config.h"
#include "agent/net/conn_tracker.h"
#include "agent/net/sock_events.h"
#include "agent/process/proc_reader.h"
#include "agent/process/process_table.h"
#include "agent/protocols/http1/parse.h"
#include "tests/bench/capture_file.h"
#include "tests/bench/pipeline.h"

namespace infrared::bench {
namespace {

// The kernel wakes the agent's poller once this much waits (wakeup_bytes in
// bpf/lib/capture.bpf.h); the poller's per-batch work runs after each.
constexpr std::size_t kBatchBytes = 256 << 10;

std::uint64_t TimestampOf(const void* record, std::size_t size) {
  infrared_sock_header header{};
  if (size >= sizeof(header)) std::memcpy(&header, record, sizeof(header));
  return header.timestamp_ns;
}

// One pass of the capture through the pipeline, in poller-sized batches.
void Replay(const Capture& capture, Pipeline& pipeline) {
  std::size_t pending = 0;
  const void* last = nullptr;
  std::size_t last_size = 0;
  capture.ForEach([&](const void* data, std::size_t size) {
    pipeline.OnRecord(data, size);
    last = data;
    last_size = size;
    pending += size;
    if (pending >= kBatchBytes) {
      pipeline.AfterBatch(TimestampOf(last, last_size));
      pipeline.DrainSpans();
      pending = 0;
    }
  });
  pipeline.AfterBatch(TimestampOf(last, last_size));
  pipeline.DrainSpans();
}

void CountPasses(benchmark::State& state, const Capture& capture) {
  const double passes = static_cast<double>(state.iterations());
  state.counters["events"] = benchmark::Counter(passes * static_cast<double>(capture.records()),
                                                benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(capture.record_bytes()) * state.iterations());
}

// Decoding alone: the floor under everything else.
void BM_Decode(benchmark::State& state, const Capture* capture) {
  for (auto _ : state) {
    capture->ForEach([](const void* data, std::size_t size) {
      net::SockEvent event = net::DecodeSockEvent(data, size);
      benchmark::DoNotOptimize(event);
    });
  }
  CountPasses(state, *capture);
}

// Takes exchanges and decisions, and does nothing with them.
class DiscardSink : public net::ExchangeSink, public net::ConnDecisions {
 public:
  void OnExchange(const net::ConnectionInfo&, protocols::http1::Exchange exchange) override {
    benchmark::DoNotOptimize(exchange);
  }
  void Skip(const net::ConnId&) override {}
};

// Decoding and the tracker with its HTTP/1 parsers; exchanges are dropped.
void BM_DecodeTrack(benchmark::State& state, const Capture* capture) {
  DiscardSink sink;
  net::ConnTracker tracker(Pipeline::DefaultTrackerLimits(), sink, sink,
                           [](const char*, std::uint64_t) {});
  for (auto _ : state) {
    capture->ForEach([&tracker](const void* data, std::size_t size) {
      std::visit(
          [&tracker](const auto& event) {
            using Event = std::decay_t<decltype(event)>;
            if constexpr (std::is_same_v<Event, net::OpenEvent>) tracker.OnOpen(event);
            if constexpr (std::is_same_v<Event, net::DataEvent>) tracker.OnData(event);
            if constexpr (std::is_same_v<Event, net::CloseEvent>) tracker.OnClose(event);
          },
          net::DecodeSockEvent(data, size));
    });
  }
  CountPasses(state, *capture);
}

// The whole pipeline, as the agent runs it; `spans`: with spans built and queued.
void BM_Pipeline(benchmark::State& state, const Capture* capture, process::ProcessTable* table,
                 bool spans) {
  std::string error;
  std::unique_ptr<Pipeline> pipeline = Pipeline::Create(*table, {.spans = spans}, error);
  if (!pipeline) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) Replay(*capture, *pipeline);
  CountPasses(state, *capture);
  state.counters["exchanges"] = benchmark::Counter(
      static_cast<double>(pipeline->outcome().exchanges), benchmark::Counter::kIsRate);
}

// Bytes that are not HTTP through a request parser, as after a gap in a body or
// on a connection not yet decided: a JSON-like run of lowercase text, fed in
// ring-buffer chunks, in which it looks for a start line; "bytes_per_second" per core.
void BM_Resync(benchmark::State& state) {
  constexpr std::string_view kLine = "{\"id\":\"chatcmpl-0\",\"object\":\"chat.completion\"}\n";
  std::string text;
  while (text.size() < (1u << 20)) text += kLine;
  for (auto _ : state) {
    protocols::http1::RequestParser parser;
    for (std::size_t at = 0; at < text.size(); at += INFRARED_SOCK_CHUNK) {
      parser.Feed(std::string_view(text).substr(at, INFRARED_SOCK_CHUNK), 0, 2);
    }
    benchmark::DoNotOptimize(parser.stats().garbage_bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(text.size()) * state.iterations());
}

// A procfs in a temporary directory naming each process of the capture
// ("app<pid>"), so that the process table answers the HTTP observer as it
// would on a host. Removed with the object.
class ScratchProcfs {
 public:
  explicit ScratchProcfs(const std::set<std::uint32_t>& pids) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "infrared-bench-procfs-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    root_ = pattern;
    for (std::uint32_t pid : pids) {
      const std::string name = "app" + std::to_string(pid);
      const std::filesystem::path dir = std::filesystem::path(root_) / std::to_string(pid);
      std::filesystem::create_directories(dir);
      Write(dir / "stat", std::to_string(pid) + " (" + name + ") S 1 " + std::to_string(pid) +
                              " 1 0 -1 4194560 25 0 0 0 300 0 0 0 20 0 1 0 1000 3133440 395\n");
      Write(dir / "status", "VmSize:\t1000 kB\nRssAnon:\t10 kB\nRssFile:\t20 kB\n");
      using namespace std::string_literals;
      Write(dir / "cmdline", name + "\0--serve\0"s);
      Write(dir / "environ", "HOME=/root\0PATH=/usr/bin\0"s);
      Write(dir / "cgroup", "0::/system.slice/" + name + ".service\n");
      std::filesystem::create_symlink("/usr/bin/" + name, dir / "exe");
    }
  }
  ~ScratchProcfs() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  ScratchProcfs(const ScratchProcfs&) = delete;
  ScratchProcfs& operator=(const ScratchProcfs&) = delete;

  const std::string& root() const { return root_; }

 private:
  static void Write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string root_;
};

std::set<std::uint32_t> PidsOf(const Capture& capture) {
  std::set<std::uint32_t> pids;
  capture.ForEach([&pids](const void* data, std::size_t size) {
    std::visit(
        [&pids](const auto& event) {
          using Event = std::decay_t<decltype(event)>;
          if constexpr (!std::is_same_v<Event, net::SockDecodeError> &&
                        !std::is_same_v<Event, net::LibraryEvent>) {
            pids.insert(event.conn.pid);
          }
        },
        net::DecodeSockEvent(data, size));
  });
  return pids;
}

// "stage/reason count" of each infrared_dropped series above zero, or "none".
std::string Drops(telemetry::MetricRegistry& registry) {
  std::string drops;
  for (const telemetry::MetricFamily& family : registry.Collect()) {
    if (family.name != telemetry::kDroppedFamily) continue;
    for (const telemetry::Sample& sample : family.samples) {
      if (sample.value <= 0) continue;
      drops += drops.empty() ? "" : ", ";
      for (const telemetry::Label& label : sample.labels) drops += label.value + "/";
      drops.back() = ' ';
      drops += std::to_string(static_cast<long long>(sample.value));
    }
  }
  return drops.empty() ? "none" : drops;
}

// One pass of the whole pipeline, checked: a capture that does not decode, or
// holds no HTTP, would measure something else. Prints what one pass holds and
// what it lost; a generated capture loses nothing, a recorded one may (requests
// in flight when recording stopped, connections joined mid-message).
bool Validate(const std::string& path, const Capture& capture, process::ProcessTable& table) {
  std::string error;
  std::unique_ptr<Pipeline> pipeline = Pipeline::Create(table, {.spans = true}, error);
  if (!pipeline) {
    std::fprintf(stderr, "infrared_pipeline_bench: %s\n", error.c_str());
    return false;
  }
  Replay(capture, *pipeline);
  const Pipeline::Tally& tally = pipeline->tally();
  const Pipeline::Outcome outcome = pipeline->outcome();
  auto count = [](std::uint64_t n) { return static_cast<unsigned long long>(n); };
  std::fprintf(stderr,
               "capture %s: %zu records, %zu bytes a pass; %llu exchanges (%llu LLM calls), "
               "%llu spans; lost: %llu without a response, %llu bytes not HTTP, "
               "%llu connections skipped, %zu left open; dropped: %s\n",
               path.c_str(), capture.records(), capture.record_bytes(), count(outcome.exchanges),
               count(outcome.llm_calls), count(tally.spans), count(outcome.unanswered),
               count(pipeline->tracker().counts().garbage_bytes), count(tally.skips),
               pipeline->tracker().Size(), Drops(pipeline->registry()).c_str());
  if (outcome.decode_errors > 0 || outcome.exchanges == 0) {
    std::fprintf(stderr,
                 "infrared_pipeline_bench: %s is not a usable capture (%llu records do not decode, "
                 "%llu exchanges): was include/infrared/abi/sockdata.h changed? Write it again "
                 "with infrared_make_capture, or record it again\n",
                 path.c_str(), count(outcome.decode_errors), count(outcome.exchanges));
    return false;
  }
  return true;
}

}  // namespace
}  // namespace infrared::bench

int main(int argc, char** argv) {
  using namespace infrared;
  benchmark::Initialize(&argc, argv);
  std::string path = INFRARED_PIPELINE_CAPTURE;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    constexpr std::string_view kFlag = "--capture=";
    if (std::string_view(argv[i]).substr(0, kFlag.size()) == kFlag) {
      path = argv[i] + kFlag.size();
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string error;
  std::optional<bench::Capture> capture = bench::Capture::Load(path, error);
  if (!capture) {
    std::fprintf(stderr, "infrared_pipeline_bench: %s\n", error.c_str());
    return 1;
  }
  process::ProcessTable table(core::Config{}.process_max_processes, [](const char*) {});
  {
    bench::ScratchProcfs procfs(bench::PidsOf(*capture));
    table.Rescan(process::ProcReader(procfs.root()));
  }
  if (!bench::Validate(path, *capture, table)) return 1;

  benchmark::RegisterBenchmark("decode", bench::BM_Decode, &*capture);
  benchmark::RegisterBenchmark("decode+track", bench::BM_DecodeTrack, &*capture);
  benchmark::RegisterBenchmark("pipeline", bench::BM_Pipeline, &*capture, &table, false);
  benchmark::RegisterBenchmark("pipeline+spans", bench::BM_Pipeline, &*capture, &table, true);
  benchmark::RegisterBenchmark("resync", bench::BM_Resync);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
