#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace infrared::prometheus {

// httplib's worker pool, with a cap on the connections waiting for a worker.
// httplib accepts every connection at once and hands it to enqueue(); its own
// pool queues them without limit, each holding a socket. Here enqueue() blocks
// once `max_queued` wait, so the accept loop stops and later connections wait
// in the kernel's listen backlog: the endpoint never holds more than
// workers + max_queued + 1 client sockets, whatever the clients do.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(std::size_t workers, std::size_t max_queued);
  ~BoundedTaskQueue() override;

  // Queues `fn` for a worker; blocks while `max_queued` tasks already wait.
  // After shutdown() it runs `fn` on the caller (a task owns a socket to close).
  void enqueue(std::function<void()> fn) override;
  // Lets the workers run every queued task, then joins them.
  void shutdown() override;

 private:
  void Work();

  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable room_ready_;
  std::deque<std::function<void()>> tasks_;
  bool shutting_down_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace infrared::prometheus
