#include "agent/core/kube_http.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace infrared::core::kube_http {
namespace {

struct Watch {
  Exchange exchange;
  std::vector<std::string> lines;
  int long_lines = 0;

  explicit Watch(std::size_t stop_at = 0) {
    exchange.on_line = [this, stop_at](std::string_view line) {
      lines.emplace_back(line);
      return lines.size() != stop_at;
    };
    exchange.on_long_line = [this] { ++long_lines; };
  }
};

TEST(FeedLinesTest, LinesWhateverThePieces) {
  const std::string stream = "{\"type\":\"ADDED\"}\n\n{\"type\":\"DELETED\"}\n{\"type\":\"MOD";
  const std::vector<std::string> expected = {"{\"type\":\"ADDED\"}", "",
                                             "{\"type\":\"DELETED\"}"};
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    Watch watch;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      ASSERT_TRUE(FeedLines(watch.exchange, std::string_view(stream).substr(at, piece)));
    }
    EXPECT_EQ(watch.lines, expected) << "pieces of " << piece;
    EXPECT_EQ(watch.exchange.body, "{\"type\":\"MOD");  // the unfinished line, held
  }
}

TEST(FeedLinesTest, TheConsumerEndsTheWatch) {
  Watch watch(2);
  EXPECT_FALSE(FeedLines(watch.exchange, "a\nb\nc\n"));
  EXPECT_EQ(watch.lines, (std::vector<std::string>{"a", "b"}));
}

// A line over kMaxWatchLine is dropped and said once, in whatever pieces it
// comes; the next line is read whole.
TEST(FeedLinesTest, AnOverlongLineIsDroppedAndSaidOnce) {
  Watch watch;
  const std::string long_piece(kMaxWatchLine / 4 + 1, 'x');
  ASSERT_TRUE(FeedLines(watch.exchange, "first\n"));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(FeedLines(watch.exchange, long_piece));
  EXPECT_LE(watch.exchange.body.size(), kMaxWatchLine);
  ASSERT_TRUE(FeedLines(watch.exchange, "tail of the long line\nnext\n"));
  EXPECT_EQ(watch.lines, (std::vector<std::string>{"first", "next"}));
  EXPECT_EQ(watch.long_lines, 1);
  EXPECT_TRUE(watch.exchange.body.empty());
}

}  // namespace
}  // namespace infrared::core::kube_http
