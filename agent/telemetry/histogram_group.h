#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/telemetry/metric_family.h"

namespace infrared::telemetry {

class Histogram;

// Histogram families that are always observed together with the same label
// values (a request's duration and its body sizes), named by what they observe
// (peers, routes, pods): their series are found with one lookup under one lock.
// Each member is exposed as a family of its own, as an expiring HistogramFamily
// holding the same series would be, and its series leave with the group's
// (MetricRegistry::RemoveIdleSeries counts each member's).
class HistogramGroup {
 public:
  explicit HistogramGroup(std::vector<std::string> label_names);
  ~HistogramGroup();

  // Adds a member; returns its index. Before the first ObserveAt (aborts after:
  // a programming error). MetricRegistry::AddToGroup registers it by name.
  std::size_t AddMember(std::string name, std::string help, std::string unit,
                        std::vector<double> bucket_bounds);
  // Observes values[i] in member i's series with these label values (created on
  // first use), all marked used at `now_ns` (the clock RemoveIdle is given). One
  // value per member, one label value per label name (a mismatch aborts).
  void ObserveAt(std::span<const std::string_view> label_values, std::uint64_t now_ns,
                 std::initializer_list<double> values);
  // Removes the series last updated before `cutoff_ns`; returns how many,
  // counting each member's.
  std::size_t RemoveIdle(std::uint64_t cutoff_ns);
  // Series per member.
  std::size_t Size() const;
  MetricFamily Snapshot(std::size_t member) const;

 private:
  struct Member {
    std::string name, help, unit;
    std::vector<double> bucket_bounds;
  };
  // One series per member.
  struct Row {
    std::vector<std::unique_ptr<Histogram>> series;
    std::uint64_t last_used_ns = 0;
  };

  // Rows are keyed by their label values and found by views of them: an
  // observation copies no label. Snapshot sorts them.
  using Key = std::vector<std::string>;
  using KeyView = std::span<const std::string_view>;
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(KeyView key) const;
    std::size_t operator()(const Key& key) const;
  };
  struct KeyEqual {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }
  };

  const std::vector<std::string> label_names_;
  // A deque: members never move, so their bounds' address stays valid for the
  // histograms that point to them.
  std::deque<Member> members_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Row, KeyHash, KeyEqual> rows_;
};

}  // namespace infrared::telemetry
