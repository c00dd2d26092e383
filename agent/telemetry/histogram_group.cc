#include "agent/telemetry/histogram_group.h"

#include <algorithm>
#include <utility>

#include "agent/telemetry/metric_registry.h"

namespace infrared::telemetry {

HistogramGroup::HistogramGroup(std::vector<std::string> label_names)
    : label_names_(std::move(label_names)) {}

HistogramGroup::~HistogramGroup() = default;

std::size_t HistogramGroup::AddMember(std::string name, std::string help, std::string unit,
                                      std::vector<double> bucket_bounds) {
  std::lock_guard lock(mutex_);
  if (!rows_.empty()) detail::Die(name + " joins its group after the first observation");
  members_.push_back({std::move(name), std::move(help), std::move(unit), std::move(bucket_bounds)});
  return members_.size() - 1;
}

namespace {

// The same for label values held or viewed.
template <typename Values>
std::size_t HashOf(const Values& values) {
  std::size_t hash = values.size();
  for (std::string_view value : values) {
    hash ^= std::hash<std::string_view>()(value) + 0x9e3779b97f4a7c15 + (hash << 6) + (hash >> 2);
  }
  return hash;
}

}  // namespace

std::size_t HistogramGroup::KeyHash::operator()(KeyView key) const { return HashOf(key); }

std::size_t HistogramGroup::KeyHash::operator()(const Key& key) const { return HashOf(key); }

void HistogramGroup::ObserveAt(KeyView label_values, std::uint64_t now_ns,
                               std::initializer_list<double> values) {
  std::lock_guard lock(mutex_);
  detail::CheckLabelCount(members_.empty() ? "group" : members_.front().name, label_names_.size(),
                          label_values.size());
  if (values.size() != members_.size()) {
    detail::Die("a group of " + std::to_string(members_.size()) + " histograms observes " +
                std::to_string(values.size()) + " values");
  }
  auto found = rows_.find(label_values);
  if (found == rows_.end()) {
    found = rows_.emplace(Key(label_values.begin(), label_values.end()), Row()).first;
  }
  Row& row = found->second;
  if (row.series.empty()) {
    row.series.reserve(members_.size());
    for (const Member& member : members_) {
      row.series.push_back(std::make_unique<Histogram>(&member.bucket_bounds));
    }
  }
  row.last_used_ns = std::max(row.last_used_ns, now_ns);
  auto series = row.series.begin();
  for (double value : values) (*series++)->Observe(value);
}

std::size_t HistogramGroup::RemoveIdle(std::uint64_t cutoff_ns) {
  std::lock_guard lock(mutex_);
  const std::size_t rows = std::erase_if(
      rows_, [cutoff_ns](const auto& entry) { return entry.second.last_used_ns < cutoff_ns; });
  return rows * members_.size();
}

std::size_t HistogramGroup::Size() const {
  std::lock_guard lock(mutex_);
  return rows_.size();
}

MetricFamily HistogramGroup::Snapshot(std::size_t member) const {
  MetricFamily family;
  std::lock_guard lock(mutex_);
  const Member& of = members_.at(member);
  family.name = of.name;
  family.help = of.help;
  family.unit = of.unit;
  family.type = MetricType::kHistogram;
  family.bucket_bounds = of.bucket_bounds;
  // In label order, as a family's ordered map of series lists them.
  std::vector<const std::pair<const Key, Row>*> sorted;
  sorted.reserve(rows_.size());
  for (const auto& entry : rows_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    HistogramSample sample = entry->second.series[member]->Snapshot();
    sample.labels = detail::LabelsOf(label_names_, entry->first);
    family.histograms.push_back(std::move(sample));
  }
  return family;
}

}  // namespace infrared::telemetry
