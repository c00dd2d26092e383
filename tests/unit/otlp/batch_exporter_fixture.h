#pragma once

// The batch exporter with a fake clock, a sleeper that takes no time and a
// transport that answers from a script, for batch_exporter_test.cc and
// batch_exporter_shutdown_test.cc.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/otlp/batch_exporter.h"

namespace infrared::otlp::exporter_test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const Clock::TimePoint kT0 = Clock::TimePoint() + 1h;

class FakeClock : public Clock {
 public:
  TimePoint Now() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void Advance(milliseconds by) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += by;
  }
  void AdvanceTo(TimePoint to) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (to > now_) now_ = to;
  }

 private:
  std::mutex mutex_;
  TimePoint now_ = kT0;
};

// Finite waits take no time: the clock jumps to the deadline. Waits without a
// deadline, and waits longer than `block_beyond`, block for real until woken.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}

  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 Clock::TimePoint deadline, const std::function<bool()>& wake) override {
    if (wake()) return true;
    if (deadline == Clock::TimePoint::max() || deadline - clock_.Now() > block_beyond_) {
      {
        std::lock_guard<std::mutex> blocked(mutex_);
        ++blocked_;
      }
      blocked_cv_.notify_all();
      cv.wait(lock, wake);
      return true;
    }
    {
      std::lock_guard<std::mutex> record(mutex_);
      waits_.push_back(std::chrono::duration_cast<milliseconds>(deadline - clock_.Now()));
    }
    clock_.AdvanceTo(deadline);
    return wake();
  }

  void BlockBeyond(milliseconds limit) { block_beyond_ = limit; }
  // Waits until `count` waits have blocked.
  void AwaitBlocked(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    blocked_cv_.wait(lock, [&] { return blocked_ >= count; });
  }
  std::vector<milliseconds> Waits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waits_;
  }

 private:
  FakeClock& clock_;
  milliseconds block_beyond_ = std::chrono::hours(24 * 365);
  std::mutex mutex_;
  std::condition_variable blocked_cv_;
  int blocked_ = 0;
  std::vector<milliseconds> waits_;
};

inline std::vector<std::string> Split(std::string_view body) {
  std::vector<std::string> names;
  while (!body.empty()) {
    const std::size_t newline = body.find('\n');
    names.emplace_back(body.substr(0, newline));
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
  }
  return names;
}

inline std::string Encode(const std::vector<telemetry::Span>& spans) {
  std::string body;
  for (const telemetry::Span& span : spans) {
    if (!body.empty()) body += '\n';
    body += span.name;
  }
  return body;
}

// Bodies "partial:<rejected>:<message>" carry a partial success.
inline bool ParsePartial(std::string_view body, std::int64_t& rejected, std::string& message) {
  if (!body.starts_with("partial:")) return false;
  body.remove_prefix(8);
  const std::size_t colon = body.find(':');
  rejected = std::stoll(std::string(body.substr(0, colon)));
  message = std::string(body.substr(colon + 1));
  return true;
}

inline HttpResponse Status(int status, std::string body = "") {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  if (status == 0) response.error = "Connection refused";
  return response;
}

inline HttpResponse RetryAfter(int status, std::chrono::seconds after) {
  HttpResponse response = Status(status);
  response.retry_after = after;
  return response;
}

struct Call {
  std::vector<std::string> names;
  Clock::TimePoint at;
  int status;
};

// Answers from a script (then 200), records every call, and can run a hook
// on the exporter thread during a call.
class FakeTransport : public Transport {
 public:
  explicit FakeTransport(FakeClock& clock) : clock_(clock) {}

  HttpResponse Post(const std::string& body) override {
    std::function<void()> hook;
    HttpResponse response = Status(200);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::size_t index = calls_.size();
      if (index < script_.size()) response = script_[index];
      if (auto it = hooks_.find(index); it != hooks_.end()) hook = it->second;
    }
    if (hook) hook();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls_.push_back(Call{Split(body), clock_.Now(), response.status});
    }
    cv_.notify_all();
    return response;
  }

  void FinishWithin(milliseconds budget) override {
    std::lock_guard<std::mutex> lock(mutex_);
    budgets_.push_back(budget);
  }

  void Script(std::vector<HttpResponse> script) { script_ = std::move(script); }
  // Runs `hook` inside call number `index` (from 0), before it answers.
  void OnCall(std::size_t index, std::function<void()> hook) { hooks_[index] = std::move(hook); }
  void AwaitCalls(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return calls_.size() >= count; });
  }
  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  // The budgets FinishWithin was given, in order.
  std::vector<milliseconds> Budgets() {
    std::lock_guard<std::mutex> lock(mutex_);
    return budgets_;
  }

 private:
  FakeClock& clock_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<HttpResponse> script_;
  std::map<std::size_t, std::function<void()>> hooks_;
  std::vector<Call> calls_;
  std::vector<milliseconds> budgets_;
};

inline telemetry::Span Named(std::string name) {
  telemetry::Span span;
  span.name = std::move(name);
  return span;
}

class BatchExporterTest : public ::testing::Test {
 protected:
  BatchExporterTest() { options_.shutdown_timeout = 1h; }

  BatchExporter& Make(double random = 0.5) {
    exporter_ = std::make_unique<BatchExporter>(options_, transport_, Encode, ParsePartial, clock_,
                                                sleeper_, [random] { return random; });
    return *exporter_;
  }
  // Offers spans "<prefix>0" .. "<prefix>(count-1)"; returns how many were taken.
  int OfferMany(int count, const std::string& prefix = "s") {
    int accepted = 0;
    for (int i = 0; i < count; ++i) accepted += exporter_->Offer(Named(prefix + std::to_string(i)));
    return accepted;
  }

  BatchOptions options_;
  FakeClock clock_;
  FakeSleeper sleeper_{clock_};
  FakeTransport transport_{clock_};
  std::unique_ptr<BatchExporter> exporter_;
};

}  // namespace infrared::otlp::exporter_test
