// Writes the capture infrared_pipeline_bench replays (tests/bench/data/http_mix.ircap):
// socket ring-buffer records built from the structs of include/infrared/abi/sockdata.h,
// so their layout is the kernel's by construction, for a host where the agent captures
// every process:
//
// - wrk against nginx (sendfile on, a 32-byte page): 16 keep-alive connections, both
//   ends seen: wrk's write, nginx's read, nginx's writev of the head and its sendfile of
//   the body (a record without bytes: call_bytes only), wrk's read;
// - python requests against a node API: 4 keep-alive connections, both ends seen; GETs
//   answered with chunked JSON (head and first chunk in one write, then a write per
//   chunk and one for the terminator), POSTs with JSON bodies;
// - python's openai SDK against api.openai.com over TLS (plaintext from the TLS uprobes,
//   fd -1): four streamed chat completions, one SSE `data: {...}` event per HTTP chunk,
//   one to three chunks per SSL_read, a usage chunk and [DONE]; one call not streamed.
//
// Every connection opens and closes within the capture, so it replays in a loop.
// Timestamps are synthetic (flows spread over a few seconds); sizes, call boundaries
// and event kinds follow what the probes send for these programs. Deterministic: the
// same seed gives the same bytes. Run it again whenever the ABI changes:
//
//   infrared_make_capture [out=tests/bench/data/http_mix.ircap] [seed=9]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "infrared/abi/sockdata.h"
#include "tests/bench/capture_timeline.h"

namespace infrared::bench {
namespace {

constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint32_t kWrk = 3101, kNginx = 3102, kApiClient = 3201, kApiServer = 3202,
                        kSdk = 3301;

std::string Formatted(std::uint64_t value, const char* format) {
  char text[32];
  std::snprintf(text, sizeof(text), format, static_cast<unsigned long long>(value));
  return text;
}

std::string Chunk(std::string_view piece) {
  return Formatted(piece.size(), "%llx") + "\r\n" + std::string(piece) + "\r\n";
}

const std::vector<std::string> kWords = {
    "the",   "model",   "streams", "its",   "answer", "token",      "by",    "token", "so",
    "that",  "a",       "user",    "sees",  "text",   "early",      "while", "the",   "server",
    "keeps", "writing", "chunks",  "until", "the",    "completion", "ends",  "with",  "usage"};

std::string Words(Random& random, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += (i ? " " : "") + random.Pick(kWords);
  return text;
}

void WrkAgainstNginx(Timeline& timeline, Random& random, std::uint64_t start) {
  const std::string page = "<html>infrared test page</html>\n";
  const std::string request = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
  for (int i = 0; i < 16; ++i) {
    std::uint64_t ts = start + random.Below(50 * kMs);
    const Conn client{kWrk, 5 + i, ts}, server{kNginx, 9 + i, ts + 30 * kUs};
    const auto port = static_cast<std::uint16_t>(40000 + i);
    timeline.Open(ts, client, INFRARED_ROLE_CONNECT, {{127, 0, 0, 1}, port},
                  {{127, 0, 0, 1}, 8080});
    timeline.Open(ts + 30 * kUs, server, INFRARED_ROLE_ACCEPT, {{127, 0, 0, 1}, 8080},
                  {{127, 0, 0, 1}, port});
    ts += 100 * kUs;
    for (int n = 0; n < 25; ++n) {
      const std::string head =
          "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 02 Jul 2024 10:00:" +
          Formatted(n, "%02llu") +
          " GMT\r\nContent-Type: text/html\r\nContent-Length: 32\r\n"
          "Last-Modified: Mon, 01 Jul 2024 09:00:00 GMT\r\nConnection: keep-alive\r\n"
          "ETag: \"66827110-20\"\r\nAccept-Ranges: bytes\r\n\r\n";
      ts = timeline.Call(ts, client, INFRARED_DIR_EGRESS, request) + 15 * kUs;
      ts = timeline.Call(ts, server, INFRARED_DIR_INGRESS, request) + 20 * kUs;
      ts = timeline.Call(ts, server, INFRARED_DIR_EGRESS, head) + 5 * kUs;
      ts = timeline.Call(ts, server, INFRARED_DIR_EGRESS, "", page.size()) + 25 * kUs;  // sendfile
      if (random.Below(10) < 8) {
        ts = timeline.Call(ts, client, INFRARED_DIR_INGRESS, head + page);
      } else {  // the body came after the client's first read
        ts = timeline.Call(ts, client, INFRARED_DIR_INGRESS, head) + 10 * kUs;
        ts = timeline.Call(ts, client, INFRARED_DIR_INGRESS, page);
      }
      ts += random.Between(20, 120) * kMs;  // flows spread over a few seconds
    }
    timeline.Close(ts, client);
    timeline.Close(ts + 40 * kUs, server);
  }
}

// One API exchange: what the client writes, and what the server writes back.
struct ApiExchange {
  std::vector<std::string> request;
  std::vector<std::string> response;
};

ApiExchange ApiCall(Random& random, int n) {
  const std::string common =
      "Host: api.internal:3000\r\nUser-Agent: python-requests/2.31.0\r\n"
      "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXNlc3Npb24.c2lnbmF0dXJl\r\n";
  const std::string user = std::to_string(random.Between(1000, 99999));
  if (n % 5 == 4) {
    std::string body = R"({"user_id":)" + user + R"(,"items":[)";
    // Each draw in a statement of its own: the order of operands is unspecified.
    for (std::uint64_t i = 0, items = random.Between(3, 12); i < items; ++i) {
      const std::uint64_t sku = random.Below(99999);
      const std::uint64_t quantity = random.Between(1, 9);
      body += std::string(i ? "," : "") + R"({"sku":"SKU-)" + Formatted(sku, "%05llu") +
              R"(","quantity":)" + std::to_string(quantity) + "}";
    }
    body += R"(],"currency":"EUR"})";
    const std::string answer = R"({"order_id":"ord_)" +
                               Formatted(random.Below(1ull << 32), "%08llx") +
                               R"(","status":"accepted"})";
    return {{"POST /api/v1/orders HTTP/1.1\r\n" + common +
                 "Content-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n",
             body},
            {"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n"
             "Content-Length: " +
             std::to_string(answer.size()) +
             "\r\nDate: Tue, 02 Jul 2024 10:00:00 GMT\r\nConnection: keep-alive\r\n"
             "Keep-Alive: timeout=5\r\n\r\n" +
             answer}};
  }
  ApiExchange exchange;
  exchange.request = {"GET /api/v1/users/" + user + "/orders?limit=20&page=" + std::to_string(n) +
                      " HTTP/1.1\r\n" + common + "\r\n"};
  const std::string head = std::string("HTTP/1.1 ") + (n % 11 == 10 ? "404 Not Found" : "200 OK") +
                           "\r\nX-Powered-By: Express\r\nContent-Type: application/json; "
                           "charset=utf-8\r\nDate: Tue, 02 Jul 2024 10:00:00 GMT\r\n"
                           "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
  for (std::uint64_t i = 0, pieces = random.Between(1, 5); i < pieces; ++i) {
    const std::uint64_t id = random.Below(1ull << 32);
    const std::uint64_t euros = random.Below(999);
    const std::uint64_t cents = random.Below(100);
    const std::uint64_t lines = random.Below(9);
    const std::uint64_t note = random.Between(50, 500);
    const std::string piece = R"({"id":"ord_)" + Formatted(id, "%08llx") + R"(","total":)" +
                              std::to_string(euros) + "." + Formatted(cents, "%02llu") +
                              R"(,"lines":)" + std::to_string(lines) + R"(,"note":")" +
                              std::string(note, 'x') + R"("})";
    exchange.response.push_back((i == 0 ? head : "") + Chunk(piece));
  }
  exchange.response.push_back("0\r\n\r\n");
  return exchange;
}

void ApiCalls(Timeline& timeline, Random& random, std::uint64_t start) {
  for (int i = 0; i < 4; ++i) {
    std::uint64_t ts = start + random.Below(50 * kMs);
    const Conn client{kApiClient, 3 + i, ts}, server{kApiServer, 21 + i, ts + 40 * kUs};
    const auto port = static_cast<std::uint16_t>(51000 + i);
    timeline.Open(ts, client, INFRARED_ROLE_CONNECT, {{10, 0, 0, 5}, port}, {{10, 0, 0, 7}, 3000});
    timeline.Open(ts + 40 * kUs, server, INFRARED_ROLE_ACCEPT, {{10, 0, 0, 7}, 3000},
                  {{10, 0, 0, 5}, port});
    ts += 200 * kUs;
    for (int n = 0; n < 25; ++n) {
      const ApiExchange exchange = ApiCall(random, n);
      std::string sent, answered;
      for (const std::string& write : exchange.request) {
        ts = timeline.Call(ts, client, INFRARED_DIR_EGRESS, write) + 30 * kUs;
        sent += write;
      }
      ts = timeline.Call(ts, server, INFRARED_DIR_INGRESS, sent) + 400 * kUs;
      for (const std::string& write : exchange.response) {
        ts = timeline.Call(ts, server, INFRARED_DIR_EGRESS, write) + 150 * kUs;
        answered += write;
      }
      // The client's buffered reads take what has arrived, up to 8 KiB each.
      for (std::string_view rest = answered; !rest.empty();) {
        const std::size_t size =
            std::min<std::size_t>({rest.size(), 8192,
                                   random.Pick(std::vector<std::size_t>{
                                       rest.size(), exchange.response[0].size(), 1024})});
        ts = timeline.Call(ts, client, INFRARED_DIR_INGRESS, rest.substr(0, size)) + 40 * kUs;
        rest.remove_prefix(size);
      }
      ts += random.Between(30, 150) * kMs;
    }
    timeline.Close(ts, client);
    timeline.Close(ts + 300 * kUs, server);
  }
}

std::string OpenAiHead(const std::string& type, const std::string& framing) {
  return "HTTP/1.1 200 OK\r\nDate: Tue, 02 Jul 2024 10:00:00 GMT\r\nContent-Type: " + type +
         "\r\n" + framing +
         "Connection: keep-alive\r\naccess-control-expose-headers: X-Request-ID\r\n"
         "openai-organization: user-abc123\r\nopenai-processing-ms: 212\r\n"
         "openai-version: 2020-10-01\r\nstrict-transport-security: max-age=15552000\r\n"
         "x-ratelimit-limit-requests: 10000\r\nx-ratelimit-limit-tokens: 200000\r\n"
         "x-ratelimit-remaining-requests: 9999\r\nx-ratelimit-remaining-tokens: 199441\r\n"
         "x-request-id: req_5f2a1c0e9b8d7a6f5e4d3c2b1a098765\r\nCF-Cache-Status: DYNAMIC\r\n"
         "Server: cloudflare\r\nCF-RAY: 89d2c6a1b8e35e1c-CDG\r\n"
         "alt-svc: h3=\":443\"; ma=86400\r\n\r\n";
}

// The SDK's request: head and body in two SSL_writes.
std::vector<std::string> OpenAiRequest(Random& random, bool stream) {
  std::string body = R"({"messages":[)";
  const std::pair<const char*, int> turns[] = {
      {"system", 30}, {"user", 60}, {"assistant", 40}, {"user", 25}};
  for (const auto& [role, words] : turns) {
    body += std::string(body.back() == '[' ? "" : ",") + R"({"role":")" + role +
            R"(","content":")" + Words(random, words) + R"("})";
  }
  body += R"(],"model":"gpt-4o-mini","max_tokens":512,"temperature":0.7)";
  if (stream) body += R"(,"stream":true,"stream_options":{"include_usage":true})";
  body += "}";
  return {
      "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
      "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nAccept: application/json\r\n"
      "Content-Type: application/json\r\nUser-Agent: OpenAI/Python 1.35.3\r\n"
      "X-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.35.3\r\n"
      "X-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\nX-Stainless-Runtime: CPython\r\n"
      "X-Stainless-Runtime-Version: 3.11.2\r\n"
      "Authorization: Bearer sk-proj-0123456789abcdefghijklmnopqrstuvwxyz0123456789ab\r\n"
      "X-Stainless-Async: false\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n",
      body};
}

// The HTTP chunks of a streamed chat completion, one SSE event each.
std::vector<std::string> ChatStream(Random& random, const std::string& id, int created) {
  const std::string prefix =
      R"({"id":")" + id + R"(","object":"chat.completion.chunk","created":)" +
      std::to_string(created) +
      R"(,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_06737a9306",)";
  auto chunk = [&prefix](const std::string& delta, const char* finish) {
    return prefix + R"("choices":[{"index":0,"delta":)" + delta +
           R"(,"logprobs":null,"finish_reason":)" + finish + R"(}],"usage":null})";
  };
  std::vector<std::string> events = {
      chunk(R"({"role":"assistant","content":"","refusal":null})", "null")};
  const std::uint64_t tokens = random.Between(80, 160);
  for (std::uint64_t i = 0; i < tokens; ++i) {
    events.push_back(chunk(R"({"content":" )" + random.Pick(kWords) + R"("})", "null"));
  }
  events.push_back(chunk("{}", R"("stop")"));
  events.push_back(prefix + R"("choices":[],"usage":{"prompt_tokens":212,"completion_tokens":)" +
                   std::to_string(tokens) + R"(,"total_tokens":)" + std::to_string(212 + tokens) +
                   R"(,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
                   R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})");
  events.push_back("[DONE]");
  std::vector<std::string> chunks;
  for (const std::string& event : events) chunks.push_back(Chunk("data: " + event + "\n\n"));
  chunks.back() += "0\r\n\r\n";
  return chunks;
}

void OpenAiCalls(Timeline& timeline, Random& random, std::uint64_t start) {
  struct Flow {
    Conn socket, stream;
    std::uint64_t ts;
  };
  std::vector<Flow> flows;
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t ts = start + i * 7 * kMs;
    const Flow flow{{kSdk, 7 + i, ts}, {kSdk, INFRARED_TLS_FD, ts + 3 * kMs}, ts + 3 * kMs};
    const Address local{{10, 0, 0, 5}, static_cast<std::uint16_t>(48000 + i)};
    const Address remote{{162, 159, 140, 245}, 443};
    // The socket carries ciphertext: the kernel sends no data for it. The TLS
    // stream is announced at its first SSL_write, with the socket beneath.
    timeline.Open(ts, flow.socket, INFRARED_ROLE_CONNECT, local, remote);
    timeline.SetTlsSocket(flow.socket.fd);
    timeline.Open(flow.ts, flow.stream, INFRARED_ROLE_CONNECT, local, remote);
    flows.push_back(flow);
  }
  for (int n = 0; n < 5; ++n) {
    Flow& flow = flows[n % 2];
    const bool streamed = n < 4;
    const std::vector<std::string> request = OpenAiRequest(random, streamed);
    std::uint64_t ts =
        timeline.Call(flow.ts, flow.stream, INFRARED_DIR_EGRESS, request[0]) + 20 * kUs;
    ts = timeline.Call(ts, flow.stream, INFRARED_DIR_EGRESS, request[1]) + 350 * kMs;
    const std::string id = "chatcmpl-9" + Formatted(random.Below(~0ull), "%016llx");
    if (streamed) {
      const std::vector<std::string> chunks = ChatStream(random, id, 1719914400 + n);
      ts = timeline.Call(
               ts, flow.stream, INFRARED_DIR_INGRESS,
               OpenAiHead("text/event-stream; charset=utf-8", "Transfer-Encoding: chunked\r\n")) +
           2 * kMs;
      for (std::size_t next = 0; next < chunks.size();) {
        std::string read;
        for (std::uint64_t take = random.Pick(std::vector<std::uint64_t>{1, 1, 1, 2, 3});
             take > 0 && next < chunks.size(); --take) {
          read += chunks[next++];
        }
        ts = timeline.Call(ts, flow.stream, INFRARED_DIR_INGRESS, read) +
             random.Between(8, 40) * kMs;
      }
    } else {
      const std::string answer =
          R"({"id":")" + id + R"(","object":"chat.completion","created":)" +
          std::to_string(1719914400 + n) +
          R"(,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":)"
          R"({"role":"assistant","content":")" +
          Words(random, 64) +
          R"(","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
          R"("usage":{"prompt_tokens":212,"completion_tokens":64,"total_tokens":276},"system_fingerprint":"fp_06737a9306"})";
      ts = timeline.Call(ts, flow.stream, INFRARED_DIR_INGRESS,
                         OpenAiHead("application/json",
                                    "Content-Length: " + std::to_string(answer.size()) + "\r\n") +
                             answer);
    }
    flow.ts = ts + random.Between(200, 900) * kMs;
  }
  for (const Flow& flow : flows) {
    timeline.Close(flow.ts, flow.stream);  // SSL_shutdown
    timeline.Close(flow.ts + 50 * kUs, flow.socket);
  }
}

}  // namespace
}  // namespace infrared::bench

int main(int argc, char** argv) {
  using namespace infrared::bench;
  const std::string out = argc > 1 ? argv[1] : INFRARED_PIPELINE_CAPTURE;
  Random random(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 9);
  Timeline timeline;
  const std::uint64_t start = 5'000'000'000'000;  // about 83 minutes after boot
  WrkAgainstNginx(timeline, random, start);
  ApiCalls(timeline, random, start);
  OpenAiCalls(timeline, random, start);
  std::string error;
  if (!timeline.Write(out, error)) {
    std::fprintf(stderr, "infrared_make_capture: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "infrared_make_capture: %zu records in %s\n", timeline.size(), out.c_str());
  return 0;
}
