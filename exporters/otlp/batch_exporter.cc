#include "exporters/otlp/batch_exporter.h"

#include <algorithm>
#include <utility>

namespace infrared::otlp {
namespace {

using std::chrono::milliseconds;

BatchOptions Normalize(BatchOptions options) {
  options.max_batch = std::max<std::size_t>(options.max_batch, 1);
  // A zero backoff would spin against a collector that is down.
  options.initial_backoff = std::max(options.initial_backoff, milliseconds(1));
  options.max_backoff = std::max(options.max_backoff, options.initial_backoff);
  return options;
}

bool IsRetryable(int status) {
  return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

// Up to 200 printable characters of a response body, for an error sentence.
std::string Excerpt(std::string_view body) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : body.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (body.size() > kMax) out += "...";
  return out;
}

}  // namespace

bool CondVarSleeper::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                               Clock::TimePoint deadline, const std::function<bool()>& wake) {
  if (deadline == Clock::TimePoint::max()) {
    cv.wait(lock, wake);
    return true;
  }
  return cv.wait_until(lock, deadline, wake);
}

BatchExporter::BatchExporter(BatchOptions options, Transport& transport, Encoder encoder,
                             PartialSuccessParser parser, Clock& clock, Sleeper& sleeper,
                             std::function<double()> random)
    : options_(Normalize(options)),
      transport_(transport),
      encoder_(std::move(encoder)),
      parser_(std::move(parser)),
      clock_(clock),
      sleeper_(sleeper),
      random_(std::move(random)) {}

BatchExporter::BatchExporter(BatchOptions options, Transport& transport, Encoder encoder,
                             PartialSuccessParser parser)
    : options_(Normalize(options)),
      transport_(transport),
      encoder_(std::move(encoder)),
      parser_(std::move(parser)),
      generator_(std::random_device{}()),
      clock_(steady_clock_),
      sleeper_(cond_var_sleeper_),
      random_([this] { return std::uniform_real_distribution<double>(0.0, 1.0)(generator_); }) {}

BatchExporter::~BatchExporter() { Shutdown(); }

bool BatchExporter::Offer(telemetry::Span span) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) {
    dropped_shutdown_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (queue_.size() >= options_.queue_capacity) {
    dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  queue_.push_back(Queued{std::move(span), clock_.Now()});
  // The thread waits either for a first span or for a full batch.
  if (queue_.size() == 1 || queue_.size() == options_.max_batch) cv_.notify_one();
  return true;
}

void BatchExporter::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mutex_);
  if (shut_down_ || thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void BatchExporter::Shutdown() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mutex_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    shutdown_deadline_ = clock_.Now() + options_.shutdown_timeout;
  }
  transport_.FinishWithin(options_.shutdown_timeout);
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    Run();
  }
}

ExportCounters BatchExporter::Counters() const {
  ExportCounters counters;
  counters.exported = exported_.load(std::memory_order_relaxed);
  counters.failed = failed_.load(std::memory_order_relaxed);
  counters.retried = retried_.load(std::memory_order_relaxed);
  counters.dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed);
  counters.dropped_shutdown = dropped_shutdown_.load(std::memory_order_relaxed);
  counters.rejected = rejected_.load(std::memory_order_relaxed);
  counters.unreadable_responses = unreadable_responses_.load(std::memory_order_relaxed);
  return counters;
}

std::size_t BatchExporter::QueueSize() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

std::string BatchExporter::LastError() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

void BatchExporter::SetLastError(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_error_ = std::move(message);
}

void BatchExporter::Run() {
  std::vector<telemetry::Span> batch;
  while (NextBatch(batch)) {
    Deliver(batch);
    batch.clear();
  }
}

bool BatchExporter::NextBatch(std::vector<telemetry::Span>& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto batch_full = [this] { return stopping_ || queue_.size() >= options_.max_batch; };
  for (;;) {
    if (stopping_) {
      if (queue_.empty()) return false;
      if (clock_.Now() >= shutdown_deadline_) {
        failed_.fetch_add(queue_.size(), std::memory_order_relaxed);
        queue_.clear();
        return false;
      }
      break;  // flush without waiting for max_delay
    }
    if (queue_.size() >= options_.max_batch) break;
    if (queue_.empty()) {
      sleeper_.WaitUntil(lock, cv_, Clock::TimePoint::max(),
                         [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    const Clock::TimePoint due = queue_.front().enqueued + options_.max_delay;
    if (clock_.Now() >= due) break;
    sleeper_.WaitUntil(lock, cv_, due, batch_full);
  }
  const std::size_t count = std::min(queue_.size(), options_.max_batch);
  batch.reserve(count);
  for (std::size_t i = 0; i < count; ++i) batch.push_back(std::move(queue_[i].span));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
  return true;
}

void BatchExporter::Deliver(const std::vector<telemetry::Span>& batch) {
  const std::string body = encoder_(batch);
  milliseconds backoff = options_.initial_backoff;
  for (bool first = true;; first = false) {
    if (!first) retried_.fetch_add(1, std::memory_order_relaxed);
    const HttpResponse response = transport_.Post(body);
    if (Account(response, batch.size()) != Outcome::kRetry) return;
    // Full jitter: anywhere between no wait and the current backoff.
    const double fraction = std::clamp(random_(), 0.0, 1.0);
    milliseconds wait(
        static_cast<milliseconds::rep>(fraction * static_cast<double>(backoff.count())));
    if (response.retry_after) wait = std::max(wait, milliseconds(*response.retry_after));
    backoff = std::min(backoff * 2, options_.max_backoff);
    if (!Backoff(wait)) {
      failed_.fetch_add(batch.size(), std::memory_order_relaxed);
      SetLastError(
          "Dropped " + std::to_string(batch.size()) +
          " spans at the shutdown deadline; the last attempt: " +
          (response.status == 0 ? response.error : "HTTP " + std::to_string(response.status)) +
          ".");
      return;
    }
  }
}

BatchExporter::Outcome BatchExporter::Account(const HttpResponse& response, std::size_t spans) {
  if (response.status >= 200 && response.status < 300) {
    std::int64_t rejected = 0;
    std::string message;
    if (!parser_ || response.body.empty()) {
      // Nothing to read: a full success.
    } else if (parser_(response.body, rejected, message)) {
      const std::uint64_t refused = std::min<std::uint64_t>(
          static_cast<std::uint64_t>(std::max<std::int64_t>(rejected, 0)), spans);
      rejected_.fetch_add(refused, std::memory_order_relaxed);
      spans -= refused;
      if (refused > 0 || !message.empty()) {
        SetLastError("The collector rejected " + std::to_string(refused) +
                     " spans: " + Excerpt(message));
      }
    } else {
      // The status says accepted; sending again would only duplicate them.
      unreadable_responses_.fetch_add(1, std::memory_order_relaxed);
      SetLastError("The collector answered HTTP " + std::to_string(response.status) +
                   " with a body that is not an export response; its " + std::to_string(spans) +
                   " spans count as exported: " + Excerpt(response.body));
    }
    exported_.fetch_add(spans, std::memory_order_relaxed);
    return Outcome::kDone;
  }
  if (IsRetryable(response.status)) {
    SetLastError(response.status == 0
                     ? "The collector could not be reached (will retry): " + response.error
                     : "The collector answered HTTP " + std::to_string(response.status) +
                           " (will retry).");
    return Outcome::kRetry;
  }
  failed_.fetch_add(spans, std::memory_order_relaxed);
  SetLastError("The collector answered HTTP " + std::to_string(response.status) + "; dropped " +
               std::to_string(spans) + " spans: " + Excerpt(response.body));
  return Outcome::kGiveUp;
}

bool BatchExporter::Backoff(milliseconds wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  const Clock::TimePoint until = clock_.Now() + wait;
  if (!stopping_) {
    if (!sleeper_.WaitUntil(lock, cv_, until, [this] { return stopping_; })) return true;
    // Shutdown cut the wait short: one immediate attempt if time remains.
    return clock_.Now() < shutdown_deadline_;
  }
  // Shutting down: wait only if the next attempt still falls before the deadline.
  if (until >= shutdown_deadline_) return false;
  sleeper_.WaitUntil(lock, cv_, until, [] { return false; });
  return true;
}

}  // namespace infrared::otlp
