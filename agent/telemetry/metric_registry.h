#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/telemetry/histogram_group.h"
#include "agent/telemetry/metric_family.h"

namespace infrared::telemetry {

// Produces metric families at scrape time (for example from BPF maps).
class Collector {
 public:
  virtual ~Collector() = default;
  // Appends this collector's families to `out`. Called on the scrape thread,
  // possibly concurrently with the pipeline thread: implementations lock what
  // they read.
  virtual void Collect(std::vector<MetricFamily>& out) = 0;
  // Appends this collector's infrared_dropped families, for the periodic drop
  // report. Unlike Collect it must have no side effect a scrape would miss;
  // the default (all of Collect) suits collectors whose Collect has none.
  virtual void CollectDrops(std::vector<MetricFamily>& out) { Collect(out); }
};

// A monotonically increasing value. Lock-free, safe from any thread.
class Counter {
 public:
  // Adds `amount`; negative or NaN amounts are ignored.
  void Inc(double amount = 1);
  double Value() const;

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Lock-free, safe from any thread.
class Gauge {
 public:
  void Set(double value);
  void Add(double amount);
  double Value() const;

 private:
  std::atomic<double> value_{0};
};

// Fixed-bucket histogram. Safe from any thread.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);
  // Non-cumulative bucket counts (bounds.size() + 1 entries), sum and count.
  HistogramSample Snapshot() const;

 private:
  const std::vector<double>* bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> buckets_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// A family of series sharing a name and label names. WithLabels returns a
// reference that stays valid for the registry's lifetime; call it once and keep
// the reference on hot paths.
//
// A family whose series are named by what it observes (peers, routes, pods)
// can instead let idle series go (ExpireIdle): such a family is updated only
// through Update, under its lock, so that no reference outlives a removal.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::string unit, MetricType type,
         std::vector<std::string> label_names, std::vector<double> bucket_bounds = {});
  // The series with these label values, created on first use. The number of
  // values must equal the number of label names (checked; a mismatch aborts:
  // it is a programming error). Not for families that expire (aborts).
  Metric& WithLabels(const std::vector<std::string>& label_values);
  // Applies `update` to the series with these label values (created on first
  // use) and marks it used at `now_ns` (any monotonic clock, the one
  // RemoveIdle is given).
  template <typename Fn>
  void Update(const std::vector<std::string>& label_values, std::uint64_t now_ns, Fn&& update) {
    std::lock_guard lock(mutex_);
    Slot& slot = SlotLocked(label_values);
    slot.last_used_ns = std::max(slot.last_used_ns, now_ns);
    update(*slot.metric);
  }
  // From now on series may be removed by RemoveIdle; WithLabels is refused.
  void ExpireIdle();
  bool Expires() const { return expires_; }
  // Removes the series last updated before `cutoff_ns`; returns how many.
  std::size_t RemoveIdle(std::uint64_t cutoff_ns);
  std::size_t Size() const;
  MetricFamily Snapshot() const;

 private:
  struct Slot {
    std::unique_ptr<Metric> metric;
    std::uint64_t last_used_ns = 0;
  };
  Slot& SlotLocked(const std::vector<std::string>& label_values);

  std::string name_, help_, unit_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> bucket_bounds_;
  bool expires_ = false;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Slot> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

namespace detail {
// Registration and labelling mistakes are programming errors: fail loudly at
// startup rather than export a half-broken metric set.
[[noreturn]] void Die(const std::string& message);
// Aborts unless a family's `values` label values match its `names` label names in
// number: a programming error.
void CheckLabelCount(const std::string& family, std::size_t names, std::size_t values);
// The labels of one series: names[i]=values[i].
Labels LabelsOf(const std::vector<std::string>& names, const std::vector<std::string>& values);
}  // namespace detail

// One observation, or one increment, in a family whose series may expire.
inline void ObserveAt(HistogramFamily& family, const std::vector<std::string>& label_values,
                      std::uint64_t now_ns, double value) {
  family.Update(label_values, now_ns, [value](Histogram& series) { series.Observe(value); });
}
inline void IncAt(CounterFamily& family, const std::vector<std::string>& label_values,
                  std::uint64_t now_ns, double amount = 1) {
  family.Update(label_values, now_ns, [amount](Counter& series) { series.Inc(amount); });
}

// Owns the agent's own metric families and the scrape-time collectors.
class MetricRegistry {
 public:
  // `name` of a counter is given without "_total". Returned references stay
  // valid for the registry's lifetime. Registering a name twice aborts.
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names, const std::string& unit = "");
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names, const std::string& unit = "");
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds,
                                const std::string& unit = "");
  // A group of histogram families observed together (HistogramGroup), empty:
  // AddToGroup adds its families. The reference stays valid for the registry's
  // lifetime.
  HistogramGroup& AddHistogramGroup(std::vector<std::string> label_names);
  // Adds a histogram family to `group`, in registration order like any other;
  // returns its place in the group's ObserveAt values.
  std::size_t AddToGroup(HistogramGroup& group, const std::string& name, const std::string& help,
                         std::vector<double> bounds, const std::string& unit = "");
  // The registry does not own the collector; it must outlive the registry's use.
  void AddCollector(Collector* collector);

  // Families in registration order, then each collector's, in order added.
  std::vector<MetricFamily> Collect() const;
  // Every infrared_dropped family: the registry's and the collectors'
  // (Collector::CollectDrops).
  std::vector<MetricFamily> CollectDrops() const;
  // Removes, from the families that expire, the series last updated before
  // `cutoff_ns`; returns how many.
  std::size_t RemoveIdleSeries(std::uint64_t cutoff_ns);

 private:
  mutable std::mutex mutex_;
  std::deque<CounterFamily> counters_;
  std::deque<GaugeFamily> gauges_;
  std::deque<HistogramFamily> histograms_;
  std::deque<HistogramGroup> groups_;
  // Every family in registration order.
  struct Registered {
    enum class Kind { kCounter, kGauge, kHistogram, kGroupMember } kind;
    std::size_t index;   // in counters_, gauges_, histograms_ or groups_
    std::size_t member;  // kGroupMember: in the group
  };
  std::vector<Registered> order_;
  std::vector<Collector*> collectors_;
  std::set<std::string> names_;  // every registered family name, to refuse duplicates
};

}  // namespace infrared::telemetry
