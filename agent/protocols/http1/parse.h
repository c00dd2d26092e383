#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/http1/framer.h"
#include "agent/protocols/http1/types.h"

namespace infrared::protocols::http1 {

enum class StreamKind { kRequest, kResponse, kNotHttp, kUnknown };

// Looks at the first bytes of one direction of a connection: a known method and
// a space (a client), "HTTP/1." (a server), kUnknown while too few bytes arrived
// to say, else kNotHttp (TLS records, HTTP/2 preface, binary protocols).
StreamKind Classify(std::string_view first_bytes);

// Parses the client-to-server direction. After each Feed or Close, take the
// requests it completed (they are held only until taken).
class RequestParser : public internal::MessageParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : MessageParser(true, limits) {}
  std::vector<Request> TakeRequests();
  // Methods of the requests whose head was parsed, in order, so the peer
  // parser can frame responses before the request body has finished.
  std::vector<std::string> TakeHeadMethods();
  // Whether each of those requests is followed closely (ParserLimits), in the
  // same order; taken together with TakeHeadMethods.
  std::vector<bool> TakeHeadCloseness();

 private:
  BodyPlan OnHead(std::string_view head) override;
  void OnEnd(Ending ending) override;

  Request current_;
  std::vector<Request> done_;
  std::vector<std::string> head_methods_;
  std::vector<bool> head_closeness_;
};

// Parses the server-to-client direction. Framing depends on the request
// (HEAD has no body; CONNECT 2xx opens a tunnel), so the caller pushes each
// request's method in order; without one, GET is assumed.
class ResponseParser : public internal::MessageParser {
 public:
  explicit ResponseParser(ParserLimits limits = {}) : MessageParser(false, limits) {}
  // `closely`: its response is followed closely (see ParserLimits).
  // `count` requests in a row with this method (lost requests: GET's framing).
  void PushRequestMethod(std::string_view method, bool closely = false, std::uint64_t count = 1);
  // The oldest `count` requests' responses were lost: their methods go unused.
  void DropRequestMethods(std::uint64_t count);
  std::vector<Response> TakeResponses();
  std::size_t PendingMethods() const { return methods_.size(); }

  static constexpr std::size_t kMaxPendingMethods = 128;

 private:
  BodyPlan OnHead(std::string_view head) override;
  void OnEnd(Ending ending) override;

  struct Pending {
    std::string method;
    bool closely = false;
    std::uint64_t count = 1;  // requests in a row with this method
  };
  std::deque<Pending> methods_;
  Response current_;
  std::vector<Response> done_;
};

}  // namespace infrared::protocols::http1
