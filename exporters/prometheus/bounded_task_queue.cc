#include "exporters/prometheus/bounded_task_queue.h"

#include <utility>

namespace infrared::prometheus {

BoundedTaskQueue::BoundedTaskQueue(std::size_t workers, std::size_t max_queued)
    : max_queued_(max_queued == 0 ? 1 : max_queued) {
  workers_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock lock(mutex_);
  room_ready_.wait(lock, [this] { return shutting_down_ || tasks_.size() < max_queued_; });
  if (shutting_down_) {
    lock.unlock();
    fn();
    return;
  }
  tasks_.push_back(std::move(fn));
  lock.unlock();
  work_ready_.notify_one();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  work_ready_.notify_all();
  room_ready_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void BoundedTaskQueue::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return shutting_down_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // shutting down, nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    room_ready_.notify_one();
    task();
  }
}

}  // namespace infrared::prometheus
