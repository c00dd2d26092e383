// Fuzzer-chosen ways to cut one stream into Feed calls, shared by the fuzz
// targets of incremental parsers: whatever the cuts, the result must be the same.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

struct SplitPlan {
  std::string stream;
  std::vector<std::size_t> cuts;   // up to 32 fuzzer-chosen offsets, sorted
  std::vector<std::size_t> every;  // every offset (byte by byte), for streams up to 1 KiB
};

// Takes the cuts from the input, then the rest of it as the stream.
inline SplitPlan ConsumeSplitPlan(FuzzedDataProvider& input) {
  SplitPlan plan;
  plan.cuts.resize(input.ConsumeIntegralInRange<std::size_t>(0, 32));
  for (std::size_t& cut : plan.cuts) cut = input.ConsumeIntegral<std::uint16_t>();
  plan.stream = input.ConsumeRemainingBytesAsString();
  for (std::size_t& cut : plan.cuts) cut %= plan.stream.size() + 1;
  std::sort(plan.cuts.begin(), plan.cuts.end());
  plan.every.resize(plan.stream.size() <= 1024 ? plan.stream.size() : 0);
  std::iota(plan.every.begin(), plan.every.end(), std::size_t{1});
  return plan;
}
