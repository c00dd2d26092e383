// Feeds an arbitrary NDJSON stream to the splitter twice: whole, and cut at
// places the fuzzer picks with a later timestamp for each piece. The lines and
// counters must not depend on the cuts, and the splitter must stay within its
// limit whatever the lines' lengths.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/ndjson/parse.h"

#include "tests/fuzz/split_plan.h"

namespace {

using namespace infrared::protocols::ndjson;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckLine(const Line& line, const Limits& limits) {
  Check(line.text.size() <= limits.max_line_bytes);
  Check(line.text.find('\n') == std::string::npos);
  Check(line.truncated || line.text.find_first_not_of(" \t\r") != std::string::npos);
}

struct Outcome {
  std::vector<Line> lines;
  Stats stats;
};

// Feeds `stream` cut at `cuts` (ascending), piece i stamped i + 1, then finishes.
Outcome Parse(std::string_view stream, const std::vector<std::size_t>& cuts, const Limits& limits) {
  Parser parser(limits);
  Outcome outcome;
  std::uint64_t now = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
    parser.Feed(stream.substr(from, to - from), ++now);
    from = to;
    Check(parser.BufferedBytes() <= limits.max_line_bytes);
    for (Line& line : parser.TakeLines()) {
      CheckLine(line, limits);
      Check(line.end_ns == now);  // emitted by the Feed that held its LF
      outcome.lines.push_back(std::move(line));
    }
  }
  parser.Finish(now + 1);
  for (Line& line : parser.TakeLines()) {
    CheckLine(line, limits);
    Check(line.end_ns == now + 1);
    outcome.lines.push_back(std::move(line));
  }
  Check(parser.BufferedBytes() == 0);
  outcome.stats = parser.stats();
  Check(outcome.stats.lines == outcome.lines.size());
  return outcome;
}

bool SameButTime(const Outcome& a, const Outcome& b) {
  if (a.stats != b.stats || a.lines.size() != b.lines.size()) return false;
  for (std::size_t i = 0; i < a.lines.size(); ++i) {
    if (a.lines[i].text != b.lines[i].text || a.lines[i].truncated != b.lines[i].truncated) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  Limits limits;
  if (input.ConsumeBool()) limits.max_line_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 64);
  const SplitPlan plan = ConsumeSplitPlan(input);
  const Outcome whole = Parse(plan.stream, {}, limits);
  for (const std::vector<std::size_t>* cuts : {&plan.cuts, &plan.every}) {
    Check(SameButTime(whole, Parse(plan.stream, *cuts, limits)));
  }
  return 0;
}
