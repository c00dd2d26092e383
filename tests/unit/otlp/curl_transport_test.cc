#include "exporters/otlp/curl_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace infrared::otlp {
namespace {

using namespace std::chrono_literals;

struct Request {
  std::string head;  // request line and headers
  std::string body;

  // The value of header `name` (case-insensitive), if present.
  std::optional<std::string> Header(const std::string& name) const {
    std::size_t start = head.find("\r\n");
    while (start != std::string::npos && start + 2 < head.size()) {
      const std::size_t end = head.find("\r\n", start + 2);
      const std::string line = head.substr(start + 2, end - start - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos && colon == name.size()) {
        bool same = true;
        for (std::size_t i = 0; i < colon; ++i) {
          same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                             std::tolower(static_cast<unsigned char>(name[i]));
        }
        if (same) {
          const std::size_t value = line.find_first_not_of(' ', colon + 1);
          return value == std::string::npos ? "" : line.substr(value);
        }
      }
      start = end;
    }
    return std::nullopt;
  }
};

// Listens on 127.0.0.1:0 and serves one connection per scripted response, in
// order: reads one request and writes the response verbatim, then closes. An
// empty response means "never answer": the connection is held until the
// client gives up.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(listen(listener_, 8), 0);
    EXPECT_EQ(getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    close(listener_);
  }

  std::string Url(const std::string& path = "/v1/traces") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int Port() const { return port_; }

  std::vector<Request> Requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // Waits for `fd` to be readable, giving up when the test ends.
  bool AwaitReadable(int fd) {
    pollfd entry{fd, POLLIN, 0};
    while (!stop_) {
      if (poll(&entry, 1, 10) > 0) return true;
    }
    return false;
  }

  void Serve() {
    for (const std::string& response : responses_) {
      if (!AwaitReadable(listener_)) return;
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::optional<Request> request = ReadRequest(connection);
      if (request) {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(*request);
      }
      if (response.empty()) {
        char sink[256];
        while (AwaitReadable(connection) && recv(connection, sink, sizeof(sink), 0) > 0) {
        }
      } else {
        std::size_t sent = 0;
        while (sent < response.size()) {
          const ssize_t n =
              send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += static_cast<std::size_t>(n);
        }
      }
      close(connection);
    }
  }

  std::optional<Request> ReadRequest(int connection) {
    std::string data;
    char buffer[4096];
    std::size_t head_end = std::string::npos;
    std::size_t body_length = 0;
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          Request probe{data.substr(0, head_end + 2), ""};
          body_length = std::stoul(probe.Header("Content-Length").value_or("0"));
        }
      }
      if (head_end != std::string::npos && data.size() >= head_end + 4 + body_length) {
        return Request{data.substr(0, head_end + 2), data.substr(head_end + 4, body_length)};
      }
      if (!AwaitReadable(connection)) return std::nullopt;
      const ssize_t n = recv(connection, buffer, sizeof(buffer), 0);
      if (n <= 0) return std::nullopt;
      data.append(buffer, static_cast<std::size_t>(n));
    }
  }

  std::vector<std::string> responses_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Request> requests_;
  std::thread thread_;
};

std::string Response(const std::string& status_line, const std::string& headers = "",
                     const std::string& body = "") {
  return "HTTP/1.1 " + status_line + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + headers + "\r\n" + body;
}

std::unique_ptr<CurlTransport> MakeTransport(CurlTransportOptions options) {
  std::string error;
  std::unique_ptr<CurlTransport> transport = CurlTransport::Create(std::move(options), error);
  EXPECT_NE(transport, nullptr) << error;
  return transport;
}

std::string Gunzip(const std::string& compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out;
  char buffer[16384];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&stream);
  return out;
}

TEST(CurlTransportTest, PostsTheBodyAsProtobufWithTheConfiguredHeaders) {
  ScriptedServer server({Response("200 OK", "", "ok")});
  CurlTransportOptions options;
  options.url = server.Url();
  options.headers = {{"api-key", "secret"}, {"x-empty", ""}};
  auto transport = MakeTransport(options);
  const std::string body("\x0a\x03\x00\xffspans", 9);

  const HttpResponse response = transport->Post(body);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
  EXPECT_EQ(response.error, "");
  EXPECT_FALSE(response.retry_after.has_value());

  const std::vector<Request> requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u);
  const Request& request = requests[0];
  EXPECT_EQ(request.head.rfind("POST /v1/traces HTTP/1.1\r\n", 0), 0u) << request.head;
  EXPECT_EQ(request.Header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(request.Header("User-Agent"), "infrared");
  EXPECT_EQ(request.Header("api-key"), "secret");
  EXPECT_EQ(request.Header("x-empty"), "");
  EXPECT_EQ(request.Header("Content-Encoding"), std::nullopt);
  EXPECT_EQ(request.Header("Expect"), std::nullopt);
  EXPECT_EQ(request.body, body);
}

TEST(CurlTransportTest, GzipsTheBodyWhenEnabled) {
  ScriptedServer server({Response("200 OK")});
  CurlTransportOptions options;
  options.url = server.Url();
  options.gzip = true;
  options.user_agent = "infrared/test";
  auto transport = MakeTransport(options);
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "span-" + std::to_string(i % 7) + ";";

  EXPECT_EQ(transport->Post(body).status, 200);
  const std::vector<Request> requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Header("Content-Encoding"), "gzip");
  EXPECT_EQ(requests[0].Header("User-Agent"), "infrared/test");
  EXPECT_LT(requests[0].body.size(), body.size());
  EXPECT_EQ(Gunzip(requests[0].body), body);
}

TEST(CurlTransportTest, ReportsStatusAndRetryAfter) {
  ScriptedServer server(
      {Response("503 Service Unavailable", "Retry-After: 7\r\n", "busy"),
       Response("429 Too Many Requests", "retry-after: Wed, 21 Oct 2015 07:28:00 GMT\r\n"),
       Response("200 OK")});
  CurlTransportOptions options;
  options.url = server.Url();
  auto transport = MakeTransport(options);

  const HttpResponse unavailable = transport->Post("a");
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.body, "busy");
  EXPECT_EQ(unavailable.retry_after, std::chrono::seconds(7));

  const HttpResponse limited = transport->Post("b");  // the handle is reused
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.retry_after.has_value());  // HTTP-date form is ignored

  const HttpResponse ok = transport->Post("c");
  EXPECT_EQ(ok.status, 200);
  EXPECT_FALSE(ok.retry_after.has_value());
  EXPECT_EQ(server.Requests().size(), 3u);
}

TEST(CurlTransportTest, CapsTheResponseBody) {
  ScriptedServer server(
      {Response("400 Bad Request", "", std::string(kMaxResponseBody + 5000, 'x'))});
  CurlTransportOptions options;
  options.url = server.Url();
  auto transport = MakeTransport(options);
  const HttpResponse response = transport->Post("a");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body.size(), kMaxResponseBody);
}

TEST(CurlTransportTest, ConnectionRefusedIsStatusZeroWithAMessage) {
  // Bound but not listening: connecting to it is refused.
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);

  CurlTransportOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/v1/traces";
  auto transport = MakeTransport(options);
  const HttpResponse response = transport->Post("a");
  close(holder);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
  EXPECT_NE(response.error.find("onnect"), std::string::npos) << response.error;
}

TEST(CurlTransportTest, TimeoutIsStatusZero) {
  ScriptedServer server({""});
  CurlTransportOptions options;
  options.url = server.Url();
  options.timeout = 100ms;
  auto transport = MakeTransport(options);
  const HttpResponse response = transport->Post("a");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("timed out"), std::string::npos) << response.error;
}

TEST(CurlTransportTest, AnAnswerThatIsNotHttpIsStatusZero) {
  // Bytes that are no status line, then the connection closes.
  ScriptedServer server({std::string("\x8f\x00\x17garbage\r\n\r\n\xff\xfe", 16)});
  CurlTransportOptions options;
  options.url = server.Url();
  options.timeout = 5000ms;
  auto transport = MakeTransport(options);
  const auto before = std::chrono::steady_clock::now();
  const HttpResponse response = transport->Post("a");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 4s);  // not the timeout
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
  EXPECT_EQ(server.Requests().size(), 1u);
}

TEST(CurlTransportTest, A200WithAnyBodyIsReturnedAsIs) {
  const std::string garbage("\xff\xff\xff\x00not protobuf", 15);
  ScriptedServer server({Response("200 OK", "Content-Type: application/x-protobuf\r\n", garbage)});
  CurlTransportOptions options;
  options.url = server.Url();
  auto transport = MakeTransport(options);
  const HttpResponse response = transport->Post("a");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, garbage);
}

TEST(CurlTransportTest, FinishWithinAbandonsATransferInProgress) {
  ScriptedServer server({""});  // never answers
  CurlTransportOptions options;
  options.url = server.Url();
  options.timeout = 30000ms;
  auto transport = MakeTransport(options);
  std::thread shutdown([&] {
    // Once the request has arrived, so that the transfer is surely in progress.
    while (server.Requests().empty()) std::this_thread::sleep_for(5ms);
    transport->FinishWithin(200ms);
  });
  const auto before = std::chrono::steady_clock::now();
  const HttpResponse response = transport->Post("a");
  const auto took = std::chrono::steady_clock::now() - before;
  shutdown.join();
  EXPECT_EQ(response.status, 0);
  EXPECT_EQ(response.error, "abandoned at the shutdown deadline");
  // libcurl polls its progress function about once a second while idle.
  EXPECT_LT(took, 5s);
}

TEST(CurlTransportTest, FinishWithinShortensLaterPostsAndThenRefusesThem) {
  ScriptedServer server({""});
  CurlTransportOptions options;
  options.url = server.Url();
  options.timeout = 30000ms;
  auto transport = MakeTransport(options);
  transport->FinishWithin(300ms);
  transport->FinishWithin(60s);  // a later, longer budget never extends the deadline
  const auto before = std::chrono::steady_clock::now();
  const HttpResponse cut = transport->Post("a");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_EQ(cut.status, 0);
  EXPECT_FALSE(cut.error.empty());

  std::this_thread::sleep_for(350ms);
  const HttpResponse refused = transport->Post("b");
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.error, "not sent: the shutdown deadline has passed");
  EXPECT_EQ(server.Requests().size(), 1u);
}

TEST(CurlTransportTest, UnreadableCaFileFailsTheTlsConnection) {
  ScriptedServer server({""});
  CurlTransportOptions options;
  options.url = "https://127.0.0.1:" + std::to_string(server.Port()) + "/v1/traces";
  options.ca_file = "/nonexistent/infrared-test-ca.pem";
  options.timeout = 2000ms;
  auto transport = MakeTransport(options);
  const HttpResponse response = transport->Post("a");
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST(CurlTransportTest, CreateRejectsUnusableOptions) {
  struct Case {
    CurlTransportOptions options;
    std::string error_part;
  };
  CurlTransportOptions no_url;
  CurlTransportOptions bad_header;
  bad_header.url = "http://127.0.0.1:1/v1/traces";
  bad_header.headers = {{"x-evil", "a\r\nInjected: yes"}};
  CurlTransportOptions colon_name = bad_header;
  colon_name.headers = {{"x:y", "1"}};
  CurlTransportOptions no_timeout = bad_header;
  no_timeout.headers.clear();
  no_timeout.timeout = 0ms;
  const std::vector<Case> cases = {{no_url, "no URL"},
                                   {bad_header, "\"x-evil\" is not a valid HTTP header"},
                                   {colon_name, "\"x:y\" is not a valid HTTP header"},
                                   {no_timeout, "timeout must be a positive"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error_part);
    std::string error;
    EXPECT_EQ(CurlTransport::Create(c.options, error), nullptr);
    EXPECT_NE(error.find(c.error_part), std::string::npos) << error;
  }
}

TEST(CurlTransportTest, ParseRetryAfterAcceptsDeltaSecondsOnly) {
  struct Case {
    std::string value;
    std::optional<std::chrono::seconds> expected;
  };
  const std::vector<Case> cases = {
      {"7", std::chrono::seconds(7)},
      {" 120 \r\n", std::chrono::seconds(120)},
      {"0", std::chrono::seconds(0)},
      {"99999999999999999999999", std::chrono::seconds(kMaxRetryAfterSeconds)},
      {"Wed, 21 Oct 2015 07:28:00 GMT", std::nullopt},
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"1.5", std::nullopt},
      {"12abc", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(ParseRetryAfter(c.value), c.expected);
  }
}

TEST(CurlTransportTest, GzipCompressRoundTrips) {
  for (const std::string& input : {std::string(), std::string("x"), std::string(100000, 'z')}) {
    std::string compressed;
    ASSERT_TRUE(GzipCompress(input, compressed));
    EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);  // gzip magic
    EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
    EXPECT_EQ(Gunzip(compressed), input);
  }
}

}  // namespace
}  // namespace infrared::otlp
