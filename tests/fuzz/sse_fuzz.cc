// Feeds an arbitrary event stream to the SSE parser twice: whole, and cut at
// places the fuzzer picks with a later timestamp for each piece. The events and
// counters must not depend on the cuts, the parser must stay within its limits,
// and no event may hold what the format cannot carry.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/sse/parse.h"

#include "tests/fuzz/split_plan.h"

namespace {

using namespace infrared::protocols::sse;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckEvent(const Event& event, const Limits& limits) {
  Check(event.data.size() <= limits.max_event_bytes);
  Check(event.type.size() <= limits.max_line_bytes && event.id.size() <= limits.max_line_bytes);
  // Line ends split lines, so only data's joining LFs can be in an event.
  Check(event.data.find('\r') == std::string::npos);
  Check(event.type.find_first_of("\r\n") == std::string::npos);
  Check(event.id.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
}

struct Outcome {
  std::vector<Event> events;
  Stats stats;
};

// Feeds `stream` cut at `cuts` (ascending), piece i stamped i + 1, then finishes.
Outcome Parse(std::string_view stream, const std::vector<std::size_t>& cuts, const Limits& limits) {
  Parser parser(limits);
  Outcome outcome;
  const std::size_t max_buffered = limits.max_event_bytes + 3 * limits.max_line_bytes;
  std::uint64_t now = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
    parser.Feed(stream.substr(from, to - from), ++now);
    from = to;
    Check(parser.BufferedBytes() <= max_buffered);
    for (Event& event : parser.TakeEvents()) {
      CheckEvent(event, limits);
      Check(event.end_ns == now);  // dispatched by the Feed that held its blank line
      outcome.events.push_back(std::move(event));
    }
  }
  parser.Finish(now + 1);
  Check(parser.TakeEvents().empty() && parser.BufferedBytes() == 0);
  outcome.stats = parser.stats();
  Check(outcome.stats.events == outcome.events.size());
  return outcome;
}

bool SameButTime(const Outcome& a, const Outcome& b) {
  if (a.stats != b.stats || a.events.size() != b.events.size()) return false;
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    Event event = b.events[i];
    event.end_ns = a.events[i].end_ns;
    if (event != a.events[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  Limits limits;
  if (input.ConsumeBool()) {  // small limits reach the caps with small inputs
    limits.max_event_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 64);
    limits.max_line_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 64);
  }
  const SplitPlan plan = ConsumeSplitPlan(input);
  const Outcome whole = Parse(plan.stream, {}, limits);
  for (const std::vector<std::size_t>* cuts : {&plan.cuts, &plan.every}) {
    Check(SameButTime(whole, Parse(plan.stream, *cuts, limits)));
  }
  return 0;
}
