// Feeds a Kubernetes watch stream, cut anywhere, to kube_http::FeedLines: the
// lines it hands on must not depend on the cuts (each is a whole line of the
// stream, without its '\n', empty ones included), what it holds is only the
// unfinished line, and a consumer's false ends the feed at once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/kube_http.h"
#include "tests/fuzz/split_plan.h"

namespace {

using infrared::core::kube_http::Exchange;
using infrared::core::kube_http::FeedLines;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// The lines handed on when the stream arrives in pieces ending at `cuts`, the
// consumer ending the watch at line `stop_at` (0: never).
std::vector<std::string> Run(const std::string& stream, const std::vector<std::size_t>& cuts,
                             std::size_t stop_at) {
  std::vector<std::string> lines;
  Exchange exchange;
  exchange.on_line = [&lines, stop_at](std::string_view line) {
    lines.emplace_back(line);
    return lines.size() != stop_at;
  };
  exchange.on_long_line = [] { Check(false); };  // no input reaches kMaxWatchLine
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(stream.size());
  for (std::size_t end : ends) {
    const bool going = FeedLines(exchange, std::string_view(stream).substr(from, end - from));
    from = end;
    Check(going == (stop_at == 0 || lines.size() < stop_at));
    if (!going) break;
    // Held: the unfinished line since the last '\n' fed, and nothing else.
    const std::size_t last = stream.rfind('\n', end == 0 ? 0 : end - 1);
    const std::size_t start = (last == std::string::npos || end == 0) ? 0 : last + 1;
    Check(exchange.body == std::string_view(stream).substr(start, end - start));
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const std::size_t stop_at = input.ConsumeIntegralInRange<std::size_t>(0, 8);
  const SplitPlan plan = ConsumeSplitPlan(input);
  std::vector<std::string> expected;
  for (std::size_t from = 0, end; (end = plan.stream.find('\n', from)) != std::string::npos;
       from = end + 1) {
    expected.push_back(plan.stream.substr(from, end - from));
  }
  if (stop_at != 0 && expected.size() > stop_at) expected.resize(stop_at);
  Check(Run(plan.stream, {}, stop_at) == expected);
  Check(Run(plan.stream, plan.cuts, stop_at) == expected);
  Check(Run(plan.stream, plan.every, stop_at) == expected);
  return 0;
}
