#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

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
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::string unit, MetricType type,
         std::vector<std::string> label_names, std::vector<double> bucket_bounds = {});
  // The series with these label values, created on first use. The number of
  // values must equal the number of label names (checked; a mismatch aborts:
  // it is a programming error).
  Metric& WithLabels(const std::vector<std::string>& label_values);
  MetricFamily Snapshot() const;

 private:
  std::string name_, help_, unit_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> bucket_bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

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
  // The registry does not own the collector; it must outlive the registry's use.
  void AddCollector(Collector* collector);

  // Families in registration order, then each collector's, in order added.
  std::vector<MetricFamily> Collect() const;

 private:
  mutable std::mutex mutex_;
  std::deque<CounterFamily> counters_;
  std::deque<GaugeFamily> gauges_;
  std::deque<HistogramFamily> histograms_;
  std::vector<std::pair<MetricType, std::size_t>> order_;
  std::vector<Collector*> collectors_;
  std::set<std::string> names_;  // every registered family name, to refuse duplicates
};

}  // namespace infrared::telemetry
