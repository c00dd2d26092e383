#include "exporters/prometheus/http_endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/telemetry/metric_registry.h"

namespace infrared::prometheus {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Holds every scrape inside Collect until Release(), as a slow BPF map walk would.
class StalledCollector : public telemetry::Collector {
 public:
  void Collect(std::vector<telemetry::MetricFamily>& out) override {
    std::unique_lock lock(mutex_);
    ++waiting_;
    released_cv_.wait(lock, [this] { return released_; });
    telemetry::MetricFamily family;
    family.name = "stalled";
    family.type = telemetry::MetricType::kGauge;
    family.samples.push_back({{}, 1});
    out.push_back(std::move(family));
  }
  int Waiting() {
    std::lock_guard lock(mutex_);
    return waiting_;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    released_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  int waiting_ = 0;
};

int Connect(int port, bool blocking = true) {
  const int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int result = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  EXPECT_TRUE(result == 0 || (!blocking && errno == EINPROGRESS)) << std::strerror(errno);
  return fd;
}

void Send(int fd, const std::string& text) {
  ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// What the server sends until it closes the connection, or nullopt when it has
// not closed it within `limit`.
std::optional<std::string> ReadUntilClosed(int fd, std::chrono::milliseconds limit) {
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd waiting{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&waiting, 1, static_cast<int>(left.count())) <= 0) {
      return std::nullopt;
    }
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return received;
    received.append(buffer, static_cast<std::size_t>(n));
  }
}

// Connections completed by the kernel and not yet accepted, from /proc/net/tcp:
// for a listening socket its rx_queue column is the accept queue's length.
int AcceptQueueLength(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    if (state != "0A" || std::stoi(local.substr(local.find(':') + 1), nullptr, 16) != port) {
      continue;
    }
    return std::stoi(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return -1;
}

constexpr char kGetMetrics[] = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
constexpr char kGetHealth[] = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

TEST(HttpEndpointTest, ASecondEndpointOnTheSamePortIsRefused) {
  telemetry::MetricRegistry registry;
  HttpEndpoint first(registry, nullptr);
  std::string error;
  ASSERT_TRUE(first.Start("127.0.0.1:0", error)) << error;
  HttpEndpoint second(registry, nullptr);
  // Before: httplib's SO_REUSEPORT let both listen, and the kernel split scrapes.
  EXPECT_FALSE(second.Start("127.0.0.1:" + std::to_string(first.Port()), error));
  EXPECT_THAT(error, HasSubstr("cannot listen on"));
}

TEST(HttpEndpointTest, ARestartBindsOverItsPredecessorsTimeWaitSockets) {
  telemetry::MetricRegistry registry;
  std::string error;
  int port = 0;
  {
    HttpEndpoint first(registry, nullptr);
    ASSERT_TRUE(first.Start("127.0.0.1:0", error)) << error;
    port = first.Port();
    const int fd = Connect(port);
    Send(fd, kGetHealth);
    ASSERT_TRUE(ReadUntilClosed(fd, 5s));  // the server closed first: its end is in TIME_WAIT
    close(fd);
    first.Stop();
  }
  HttpEndpoint second(registry, nullptr);
  EXPECT_TRUE(second.Start("127.0.0.1:" + std::to_string(port), error)) << error;
}

TEST(HttpEndpointTest, EachConnectionServesOneRequestAndIsClosed) {
  telemetry::MetricRegistry registry;
  HttpEndpoint endpoint(registry, nullptr);
  std::string error;
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0", error)) << error;
  // Before: an HTTP/1.1 client that kept its connection held a worker for 5 s,
  // and four such scrapers stalled everyone else.
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) {
    fds.push_back(Connect(endpoint.Port()));
    Send(fds.back(), kGetHealth);
  }
  for (int fd : fds) {
    std::optional<std::string> response = ReadUntilClosed(fd, 3s);
    ASSERT_TRUE(response) << "the server kept an HTTP/1.1 connection open after its response";
    EXPECT_THAT(*response, HasSubstr("200 OK"));
    EXPECT_THAT(*response, HasSubstr("Connection: close"));
    close(fd);
  }
}

TEST(HttpEndpointTest, StalledScrapesLeaveLaterConnectionsInTheKernelBacklog) {
  telemetry::MetricRegistry registry;
  StalledCollector stalled;
  registry.AddCollector(&stalled);
  HttpEndpoint endpoint(registry, nullptr);
  struct ReleaseFirst {  // the endpoint cannot stop while its workers are held
    StalledCollector& stalled;
    ~ReleaseFirst() { stalled.Release(); }
  } release_first{stalled};
  std::string error;
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0", error)) << error;
  constexpr int kClients = 64;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) fds.push_back(Connect(endpoint.Port(), false));
  for (int fd : fds) {
    pollfd writable{fd, POLLOUT, 0};
    ASSERT_EQ(poll(&writable, 1, 5000), 1);
    Send(fd, kGetMetrics);
  }
  // Every worker is held in a scrape; the endpoint accepts a bounded number more
  // and leaves the rest to the kernel. Before: httplib accepted all 64 (holding a
  // socket each without limit), and its backlog of 5 dropped the SYNs beyond it.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (stalled.Waiting() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(stalled.Waiting(), 0) << "no scrape reached the collector";
  std::this_thread::sleep_for(300ms);  // time for an accept loop without bound to drain all
  EXPECT_GE(AcceptQueueLength(endpoint.Port()), kClients / 2)
      << "connections left unaccepted while every worker is busy";
  stalled.Release();
  for (int fd : fds) {
    std::optional<std::string> response = ReadUntilClosed(fd, 10s);
    ASSERT_TRUE(response);
    EXPECT_THAT(*response, HasSubstr("200 OK"));
    EXPECT_THAT(*response, HasSubstr("stalled 1"));
    close(fd);
  }
  EXPECT_EQ(stalled.Waiting(), kClients);
}

}  // namespace
}  // namespace infrared::prometheus
