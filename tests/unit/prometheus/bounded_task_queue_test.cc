#include "exporters/prometheus/bounded_task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace infrared::prometheus {
namespace {

using namespace std::chrono_literals;

// A task that holds its worker until Open().
class Gate {
 public:
  std::function<void()> Task() {
    return [this] {
      started_.set_value();
      opened_.get_future().wait();
    };
  }
  void WaitStarted() { started_.get_future().wait(); }
  void Open() { opened_.set_value(); }

 private:
  std::promise<void> started_;
  std::promise<void> opened_;
};

TEST(BoundedTaskQueueTest, RunsEveryTask) {
  std::atomic<int> ran{0};
  BoundedTaskQueue queue(3, 2);
  for (int i = 0; i < 200; ++i) queue.enqueue([&ran] { ran++; });
  queue.shutdown();
  EXPECT_EQ(ran.load(), 200);
}

TEST(BoundedTaskQueueTest, EnqueueWaitsWhileTheQueueIsFull) {
  Gate gate;
  std::atomic<int> ran{0};
  BoundedTaskQueue queue(1, 2);
  queue.enqueue(gate.Task());
  gate.WaitStarted();  // the only worker is busy: what follows waits in the queue
  queue.enqueue([&ran] { ran++; });
  queue.enqueue([&ran] { ran++; });
  std::atomic<bool> third_queued{false};
  std::thread producer([&] {
    queue.enqueue([&ran] { ran++; });
    third_queued = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(third_queued.load()) << "a third task was queued behind two with max_queued 2";
  gate.Open();
  producer.join();
  EXPECT_TRUE(third_queued.load());
  queue.shutdown();
  EXPECT_EQ(ran.load(), 3);
}

TEST(BoundedTaskQueueTest, ShutdownRunsWhatIsQueuedThenJoins) {
  Gate gate;
  std::atomic<int> ran{0};
  BoundedTaskQueue queue(1, 4);
  queue.enqueue(gate.Task());
  gate.WaitStarted();
  for (int i = 0; i < 4; ++i) queue.enqueue([&ran] { ran++; });
  std::thread stopper([&queue] { queue.shutdown(); });
  gate.Open();
  stopper.join();
  // Each task owns a client socket: dropping one would leak it.
  EXPECT_EQ(ran.load(), 4);
}

TEST(BoundedTaskQueueTest, AfterShutdownATaskRunsOnTheCaller) {
  BoundedTaskQueue queue(2, 2);
  queue.shutdown();
  std::thread::id ran_on;
  queue.enqueue([&ran_on] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace infrared::prometheus
