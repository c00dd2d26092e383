#include "agent/telemetry/metric_registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

namespace infrared::telemetry {
namespace {

using detail::Die;

// A CAS loop rather than atomic<double>::fetch_add: the latter is C++20 and
// arrived late in some standard libraries we may be built against.
void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
  }
}

bool StrictlyAscendingAndFinite(const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

}  // namespace

namespace detail {

void Die(const std::string& message) {
  std::fprintf(stderr, "infrared: metric registry: %s\n", message.c_str());
  std::abort();
}

void CheckLabelCount(const std::string& family, std::size_t names, std::size_t values) {
  if (values != names) {
    Die("metric " + family + " takes " + std::to_string(names) + " label values, got " +
        std::to_string(values));
  }
}

Labels LabelsOf(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Labels labels;
  labels.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) labels.push_back({names[i], values[i]});
  return labels;
}

}  // namespace detail

void Counter::Inc(double amount) {
  // `!(amount >= 0)` also rejects NaN, which would poison the counter forever.
  if (!(amount >= 0)) return;
  AtomicAdd(value_, amount);
}

double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double value) { value_.store(value, std::memory_order_relaxed); }

void Gauge::Add(double amount) { AtomicAdd(value_, amount); }

double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(bounds->size() + 1, 0) {}

void Histogram::Observe(double value) {
  // A NaN would make the sum NaN for the rest of the process's life.
  if (std::isnan(value)) return;
  // The first bound >= value: an observation equal to a bound belongs to it.
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  const auto index = static_cast<std::size_t>(it - bounds_->begin());
  std::lock_guard lock(mutex_);
  ++buckets_[index];
  sum_ += value;
  ++count_;
}

HistogramSample Histogram::Snapshot() const {
  HistogramSample sample;
  std::lock_guard lock(mutex_);
  sample.bucket_counts = buckets_;
  sample.sum = sum_;
  sample.count = count_;
  return sample;
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::string unit, MetricType type,
                       std::vector<std::string> label_names, std::vector<double> bucket_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      unit_(std::move(unit)),
      type_(type),
      label_names_(std::move(label_names)),
      bucket_bounds_(std::move(bucket_bounds)) {
  if (type_ == MetricType::kHistogram && !StrictlyAscendingAndFinite(bucket_bounds_)) {
    Die("histogram " + name_ + " needs strictly ascending, finite bucket bounds");
  }
}

template <typename Metric>
typename Family<Metric>::Slot& Family<Metric>::SlotLocked(
    const std::vector<std::string>& label_values) {
  detail::CheckLabelCount(name_, label_names_.size(), label_values.size());
  Slot& slot = series_[label_values];
  if (!slot.metric) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      // bucket_bounds_ never changes after construction and the family never
      // moves (it lives in a deque and holds a mutex), so the pointer stays valid.
      slot.metric = std::make_unique<Histogram>(&bucket_bounds_);
    } else {
      slot.metric = std::make_unique<Metric>();
    }
  }
  return slot;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mutex_);
  if (expires_) Die("metric " + name_ + " expires: update it with Update, not WithLabels");
  return *SlotLocked(label_values).metric;
}

template <typename Metric>
void Family<Metric>::ExpireIdle() {
  std::lock_guard lock(mutex_);
  expires_ = true;
}

template <typename Metric>
std::size_t Family<Metric>::RemoveIdle(std::uint64_t cutoff_ns) {
  std::lock_guard lock(mutex_);
  if (!expires_) return 0;
  return std::erase_if(series_, [cutoff_ns](const auto& entry) {
    return entry.second.last_used_ns < cutoff_ns;
  });
}

template <typename Metric>
std::size_t Family<Metric>::Size() const {
  std::lock_guard lock(mutex_);
  return series_.size();
}

template <typename Metric>
MetricFamily Family<Metric>::Snapshot() const {
  MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.unit = unit_;
  family.type = type_;
  family.bucket_bounds = bucket_bounds_;
  std::lock_guard lock(mutex_);
  for (const auto& [values, slot] : series_) {
    const Metric* metric = slot.metric.get();
    Labels labels = detail::LabelsOf(label_names_, values);
    if constexpr (std::is_same_v<Metric, Histogram>) {
      HistogramSample sample = metric->Snapshot();
      sample.labels = std::move(labels);
      family.histograms.push_back(std::move(sample));
    } else {
      family.samples.push_back({std::move(labels), metric->Value()});
    }
  }
  return family;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily& MetricRegistry::AddCounter(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          const std::string& unit) {
  std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) Die("metric " + name + " registered twice");
  counters_.emplace_back(name, help, unit, MetricType::kCounter, std::move(label_names));
  order_.push_back({Registered::Kind::kCounter, counters_.size() - 1, 0});
  return counters_.back();
}

GaugeFamily& MetricRegistry::AddGauge(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      const std::string& unit) {
  std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) Die("metric " + name + " registered twice");
  gauges_.emplace_back(name, help, unit, MetricType::kGauge, std::move(label_names));
  order_.push_back({Registered::Kind::kGauge, gauges_.size() - 1, 0});
  return gauges_.back();
}

HistogramFamily& MetricRegistry::AddHistogram(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds, const std::string& unit) {
  std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) Die("metric " + name + " registered twice");
  histograms_.emplace_back(name, help, unit, MetricType::kHistogram, std::move(label_names),
                           std::move(bounds));
  order_.push_back({Registered::Kind::kHistogram, histograms_.size() - 1, 0});
  return histograms_.back();
}

HistogramGroup& MetricRegistry::AddHistogramGroup(std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  return groups_.emplace_back(std::move(label_names));
}

std::size_t MetricRegistry::AddToGroup(HistogramGroup& group, const std::string& name,
                                       const std::string& help, std::vector<double> bounds,
                                       const std::string& unit) {
  std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) Die("metric " + name + " registered twice");
  if (!StrictlyAscendingAndFinite(bounds)) {
    Die("histogram " + name + " needs strictly ascending, finite bucket bounds");
  }
  const auto it = std::find_if(groups_.begin(), groups_.end(),
                               [&group](const HistogramGroup& ours) { return &ours == &group; });
  if (it == groups_.end()) Die("metric " + name + " joins a group of another registry");
  const std::size_t member = group.AddMember(name, help, unit, std::move(bounds));
  order_.push_back({Registered::Kind::kGroupMember,
                    static_cast<std::size_t>(it - groups_.begin()), member});
  return member;
}

void MetricRegistry::AddCollector(Collector* collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(collector);
}

std::vector<MetricFamily> MetricRegistry::Collect() const {
  std::vector<MetricFamily> out;
  std::vector<Collector*> collectors;
  {
    std::lock_guard lock(mutex_);
    out.reserve(order_.size());
    for (const Registered& family : order_) {
      switch (family.kind) {
        case Registered::Kind::kCounter:
          out.push_back(counters_[family.index].Snapshot());
          break;
        case Registered::Kind::kGauge:
          out.push_back(gauges_[family.index].Snapshot());
          break;
        case Registered::Kind::kHistogram:
          out.push_back(histograms_[family.index].Snapshot());
          break;
        case Registered::Kind::kGroupMember:
          out.push_back(groups_[family.index].Snapshot(family.member));
          break;
      }
    }
    collectors = collectors_;
  }
  // Collectors take their own locks and may be slow (BPF map walks); running
  // them outside ours keeps registration and other scrapes from waiting.
  for (Collector* collector : collectors) collector->Collect(out);
  return out;
}

std::vector<MetricFamily> MetricRegistry::CollectDrops() const {
  std::vector<MetricFamily> out;
  std::vector<Collector*> collectors;
  {
    std::lock_guard lock(mutex_);
    for (const CounterFamily& family : counters_) {
      MetricFamily snapshot = family.Snapshot();
      if (snapshot.name == kDroppedFamily) out.push_back(std::move(snapshot));
    }
    collectors = collectors_;
  }
  std::vector<MetricFamily> collected;
  for (Collector* collector : collectors) collector->CollectDrops(collected);
  for (MetricFamily& family : collected) {
    if (family.name == kDroppedFamily) out.push_back(std::move(family));
  }
  return out;
}

std::size_t MetricRegistry::RemoveIdleSeries(std::uint64_t cutoff_ns) {
  std::lock_guard lock(mutex_);
  std::size_t removed = 0;
  for (CounterFamily& family : counters_) removed += family.RemoveIdle(cutoff_ns);
  for (GaugeFamily& family : gauges_) removed += family.RemoveIdle(cutoff_ns);
  for (HistogramFamily& family : histograms_) removed += family.RemoveIdle(cutoff_ns);
  for (HistogramGroup& group : groups_) removed += group.RemoveIdle(cutoff_ns);
  return removed;
}

}  // namespace infrared::telemetry
