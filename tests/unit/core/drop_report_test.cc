#include "agent/core/drop_report.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace infrared::core {
namespace {

constexpr std::uint64_t kSecond = 1000000000;

std::vector<telemetry::MetricFamily> Drops(
    std::vector<std::tuple<std::string, std::string, double>> series) {
  telemetry::MetricFamily family;
  family.name = telemetry::kDroppedFamily;
  family.type = telemetry::MetricType::kCounter;
  for (auto& [stage, reason, value] : series) {
    family.samples.push_back({{{"stage", stage}, {"reason", reason}}, value});
  }
  telemetry::MetricFamily other;
  other.name = "infrared_events";
  other.samples.push_back({{{"stage", "x"}, {"reason", "y"}}, 99});
  return {family, other};
}

class DropReportTest : public ::testing::Test {
 protected:
  DropReportTest()
      : sink_(std::tmpfile()),
        logger_(LogFormat::kText, LogLevel::kInfo, sink_,
                [] { return std::chrono::system_clock::time_point{}; }) {}
  ~DropReportTest() override { std::fclose(sink_); }

  std::vector<std::string> Lines() {
    std::fflush(sink_);
    std::rewind(sink_);
    std::vector<std::string> lines;
    char buffer[4096];
    while (std::fgets(buffer, sizeof(buffer), sink_)) lines.emplace_back(buffer);
    return lines;
  }

  std::FILE* sink_;
  Logger logger_;
};

TEST_F(DropReportTest, SilentWithoutDrops) {
  DropReport report(logger_, 60 * kSecond);
  EXPECT_FALSE(report.Update(Drops({{"kernel", "ringbuf_full", 0}}), 1 * kSecond));
  EXPECT_FALSE(report.Update(Drops({{"kernel", "ringbuf_full", 0}}), 2 * kSecond));
  EXPECT_TRUE(Lines().empty());
}

TEST_F(DropReportTest, OneLineAMinuteAtMostWithWhatGrewSinceTheLastOne) {
  DropReport report(logger_, 60 * kSecond);
  ASSERT_TRUE(report.Update(Drops({{"kernel", "ringbuf_full", 5}, {"spans", "queue_full", 0}}),
                            10 * kSecond));
  // More drops within the minute: not logged yet, not forgotten either.
  EXPECT_FALSE(report.Due(30 * kSecond));
  EXPECT_FALSE(report.Update(Drops({{"kernel", "ringbuf_full", 9}, {"spans", "queue_full", 2}}),
                             30 * kSecond));
  ASSERT_TRUE(report.Update(Drops({{"kernel", "ringbuf_full", 12}, {"spans", "queue_full", 2}}),
                            70 * kSecond));
  // Nothing new: no line, and the next drop is told at once.
  EXPECT_FALSE(report.Update(Drops({{"kernel", "ringbuf_full", 12}, {"spans", "queue_full", 2}}),
                             200 * kSecond));
  ASSERT_TRUE(report.Update(Drops({{"kernel", "ringbuf_full", 13}, {"spans", "queue_full", 2}}),
                            201 * kSecond));

  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("WARN"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("dropped=5 "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("by_stage_reason=\"kernel/ringbuf_full=5\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("dropped=9 "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"kernel/ringbuf_full=7 spans/queue_full=2\""), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("by_stage_reason=\"kernel/ringbuf_full=1\""), std::string::npos)
      << lines[2];
}

TEST_F(DropReportTest, SeriesSplitAcrossFamiliesAddUp) {
  DropReport report(logger_, 60 * kSecond);
  std::vector<telemetry::MetricFamily> families = Drops({{"kernel_sock", "ringbuf_full", 3}});
  std::vector<telemetry::MetricFamily> more = Drops({{"kernel_sock", "ringbuf_full", 4}});
  families.insert(families.end(), more.begin(), more.end());
  ASSERT_TRUE(report.Update(families, kSecond));
  EXPECT_NE(Lines()[0].find("kernel_sock/ringbuf_full=7"), std::string::npos);
}

}  // namespace
}  // namespace infrared::core
