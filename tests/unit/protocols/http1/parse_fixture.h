#pragma once

// HTTP/1 parsers run over chunks cut in every way that must not matter, for
// parse_test.cc and response_parse_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/http1/parse.h"

namespace infrared::protocols::http1 {

inline void PrintTo(const Request& r, std::ostream* os) {
  *os << "Request{" << r.method << " " << r.target << " 1." << r.version_minor
      << " headers=" << r.headers.size() << " body_size=" << r.body_size << " body=\"" << r.body
      << "\" truncated=" << r.body_truncated << " incomplete=" << r.incomplete
      << " chunked=" << r.chunked << " ns=" << r.start_ns << ".." << r.end_ns << "}";
}

inline void PrintTo(const Response& r, std::ostream* os) {
  *os << "Response{" << r.status_code << " " << r.reason << " 1." << r.version_minor
      << " headers=" << r.headers.size() << " body_size=" << r.body_size << " body=\"" << r.body
      << "\" truncated=" << r.body_truncated << " incomplete=" << r.incomplete
      << " chunked=" << r.chunked << " close_delimited=" << r.close_delimited
      << " tunnel=" << r.tunnel << " ns=" << r.start_ns << ".." << r.end_ns << "}";
}

namespace parse_test {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One chunk of a direction: captured bytes, then `missing` bytes not copied.
struct Chunk {
  std::string bytes;
  std::uint64_t missing = 0;
  std::uint64_t ts = 1;
};

// The same chunks cut in every way that must not matter: each chunk in two at
// every byte boundary (its gap stays after its last byte), and every chunk
// byte by byte. Timestamps stay those of the chunk cut.
inline std::vector<std::vector<Chunk>> Splits(const std::vector<Chunk>& chunks) {
  std::vector<std::vector<Chunk>> splits = {chunks};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    for (std::size_t cut = 1; cut < chunks[i].bytes.size(); ++cut) {
      std::vector<Chunk> split(chunks.begin(), chunks.begin() + i);
      split.push_back(Chunk{chunks[i].bytes.substr(0, cut), 0, chunks[i].ts});
      split.push_back(Chunk{chunks[i].bytes.substr(cut), chunks[i].missing, chunks[i].ts});
      split.insert(split.end(), chunks.begin() + i + 1, chunks.end());
      splits.push_back(split);
    }
  }
  std::vector<Chunk> bytewise;
  for (const Chunk& chunk : chunks) {
    for (char c : chunk.bytes) bytewise.push_back(Chunk{std::string(1, c), 0, chunk.ts});
    if (chunk.missing > 0) bytewise.push_back(Chunk{"", chunk.missing, chunk.ts});
  }
  splits.push_back(bytewise);
  return splits;
}

struct RequestRun {
  std::vector<Request> requests;
  std::vector<std::string> methods;
  ParseStats stats;
};

inline RequestRun RunRequests(const std::vector<Chunk>& chunks, ParserLimits limits = {}) {
  RequestRun run;
  RequestParser parser(limits);
  for (const Chunk& chunk : chunks) {
    parser.Feed(chunk.bytes, chunk.missing, chunk.ts);
    EXPECT_LE(parser.BufferedBytes(), limits.max_head_bytes + RequestParser::kSlackBytes);
    for (Request& r : parser.TakeRequests()) run.requests.push_back(std::move(r));
    for (std::string& m : parser.TakeHeadMethods()) run.methods.push_back(std::move(m));
  }
  run.stats = parser.stats();
  return run;
}

struct ResponseRun {
  std::vector<Response> responses;
  ParseStats stats;
  bool stopped = false;
};

inline ResponseRun RunResponses(const std::vector<Chunk>& chunks,
                                const std::vector<std::string>& methods, bool close = false,
                                ParserLimits limits = {}) {
  ResponseRun run;
  ResponseParser parser(limits);
  for (const std::string& method : methods) parser.PushRequestMethod(method);
  for (const Chunk& chunk : chunks) {
    parser.Feed(chunk.bytes, chunk.missing, chunk.ts);
    EXPECT_LE(parser.BufferedBytes(), limits.max_head_bytes + ResponseParser::kSlackBytes);
  }
  run.stopped = parser.stopped();
  if (close) parser.Close(99);
  run.responses = parser.TakeResponses();
  run.stats = parser.stats();
  return run;
}

inline void ExpectSameStats(const ParseStats& a, const ParseStats& b) {
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.garbage_bytes, b.garbage_bytes);
  EXPECT_EQ(a.resyncs, b.resyncs);
  EXPECT_EQ(a.incomplete_messages, b.incomplete_messages);
  EXPECT_EQ(a.ignored_bytes, b.ignored_bytes);
}

// Parses `bytes` cut every way and checks that every cut gives what the whole does.
inline RequestRun RequestsAnySplit(const std::vector<Chunk>& chunks) {
  const RequestRun whole = RunRequests(chunks);
  for (const std::vector<Chunk>& split : Splits(chunks)) {
    SCOPED_TRACE(::testing::Message() << "split into " << split.size() << " chunks");
    const RequestRun run = RunRequests(split);
    EXPECT_EQ(run.requests, whole.requests);
    EXPECT_EQ(run.methods, whole.methods);
    ExpectSameStats(run.stats, whole.stats);
  }
  return whole;
}

inline RequestRun RequestsAnySplit(const std::string& bytes) {
  return RequestsAnySplit(std::vector<Chunk>{Chunk{bytes}});
}

inline ResponseRun ResponsesAnySplit(const std::string& bytes,
                                     const std::vector<std::string>& methods, bool close = false) {
  const ResponseRun whole = RunResponses({Chunk{bytes}}, methods, close);
  for (const std::vector<Chunk>& split : Splits({Chunk{bytes}})) {
    SCOPED_TRACE(::testing::Message() << "split into " << split.size() << " chunks");
    const ResponseRun run = RunResponses(split, methods, close);
    EXPECT_EQ(run.responses, whole.responses);
    EXPECT_EQ(run.stopped, whole.stopped);
    ExpectSameStats(run.stats, whole.stats);
  }
  return whole;
}

}  // namespace parse_test
}  // namespace infrared::protocols::http1
