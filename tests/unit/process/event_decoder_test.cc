#include "agent/process/event_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <variant>

namespace infrared::process {
namespace {

// A record in a heap block of exactly `size` bytes, so that a sanitizer build
// catches any read past the end of the record.
class Record {
 public:
  template <typename Raw>
  static Record Of(const Raw& raw, std::size_t size = sizeof(Raw)) {
    Record record(size);
    std::memcpy(record.bytes_.get(), &raw, std::min(size, sizeof(Raw)));
    return record;
  }

  // An exec record followed by its argv and envp strings, as the kernel sends it.
  static Record Exec(const infrared_process_exec_event& raw, const std::string& strings) {
    Record record(sizeof(raw) + strings.size());
    std::memcpy(record.bytes_.get(), &raw, sizeof(raw));
    std::memcpy(record.bytes_.get() + sizeof(raw), strings.data(), strings.size());
    return record;
  }

  DecodedEvent Decode() const { return DecodeProcessEvent(bytes_.get(), size_); }

 private:
  explicit Record(std::size_t size)
      : bytes_(std::make_unique<unsigned char[]>(size == 0 ? 1 : size)), size_(size) {}

  std::unique_ptr<unsigned char[]> bytes_;
  std::size_t size_;
};

void FillHeader(infrared_process_event_header& header, std::uint32_t type) {
  header.type = type;
  header.pid = 4242;
  header.ppid = 17;
  header.tid = 4243;
  header.timestamp_ns = 123456789012345ull;
  std::strncpy(header.comm, "worker", sizeof(header.comm));
}

infrared_process_fork_event ForkRecord() {
  infrared_process_fork_event raw{};
  FillHeader(raw.header, INFRARED_PROCESS_FORK);
  return raw;
}

infrared_process_exec_event ExecRecord() {
  infrared_process_exec_event raw{};
  FillHeader(raw.header, INFRARED_PROCESS_EXEC);
  std::strncpy(raw.filename, "/usr/local/bin/worker", sizeof(raw.filename));
  return raw;
}

infrared_process_exit_event ExitRecord() {
  infrared_process_exit_event raw{};
  FillHeader(raw.header, INFRARED_PROCESS_EXIT);
  raw.exit_code = 0x0100;  // exited with status 1
  raw.has_stats = 1;
  raw.stats.cpu_ns = 3'490'000'000ull;
  raw.stats.voluntary_switches = 11;
  raw.stats.involuntary_switches = 5;
  raw.stats.page_faults = 900;
  raw.stats.rss_bytes[INFRARED_RSS_FILE] = 4096;
  raw.stats.rss_bytes[INFRARED_RSS_ANON] = 8192;
  raw.stats.rss_bytes[INFRARED_RSS_SWAP] = 0;
  raw.stats.rss_bytes[INFRARED_RSS_SHMEM] = 12288;
  raw.stats.vm_bytes = 1 << 20;
  raw.stats.rss_known = 0b1011;
  raw.stats.mm_id = 77;
  return raw;
}

void ExpectHeader(const EventHeader& header) {
  EXPECT_EQ(header.pid, 4242u);
  EXPECT_EQ(header.ppid, 17u);
  EXPECT_EQ(header.tid, 4243u);
  EXPECT_EQ(header.timestamp_ns, 123456789012345ull);
  EXPECT_EQ(header.comm, "worker");
}

TEST(EventDecoderTest, ForkRoundTrips) {
  DecodedEvent event = Record::Of(ForkRecord()).Decode();
  ASSERT_TRUE(std::holds_alternative<ForkEvent>(event));
  ExpectHeader(std::get<ForkEvent>(event).header);
}

TEST(EventDecoderTest, ExecRoundTrips) {
  DecodedEvent event = Record::Of(ExecRecord()).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  const auto& exec = std::get<ExecEvent>(event);
  ExpectHeader(exec.header);
  EXPECT_EQ(exec.filename, "/usr/local/bin/worker");
}

TEST(EventDecoderTest, ExitRoundTrips) {
  const infrared_process_exit_event raw = ExitRecord();
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ExitEvent>(event));
  const auto& exit = std::get<ExitEvent>(event);
  ExpectHeader(exit.header);
  EXPECT_EQ(exit.exit_code, 0x0100);
  EXPECT_TRUE(exit.has_stats);
  EXPECT_EQ(std::memcmp(&exit.stats, &raw.stats, sizeof(raw.stats)), 0);
}

TEST(EventDecoderTest, ExitWithoutStats) {
  infrared_process_exit_event raw = ExitRecord();
  raw.has_stats = 0;
  raw.exit_code = -1;
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ExitEvent>(event));
  EXPECT_FALSE(std::get<ExitEvent>(event).has_stats);
  EXPECT_EQ(std::get<ExitEvent>(event).exit_code, -1);
}

TEST(EventDecoderTest, LongerRecordsDecodeTheirOwnType) {
  // The ring buffer may round records up; trailing bytes are ignored.
  infrared_process_exit_event raw = ExitRecord();
  raw.header.type = INFRARED_PROCESS_FORK;
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ForkEvent>(event));
  ExpectHeader(std::get<ForkEvent>(event).header);
}

TEST(EventDecoderTest, DecodesFromUnalignedBuffer) {
  const infrared_process_exec_event raw = ExecRecord();
  auto buffer = std::make_unique<unsigned char[]>(sizeof(raw) + 1);
  std::memcpy(buffer.get() + 1, &raw, sizeof(raw));
  DecodedEvent event = DecodeProcessEvent(buffer.get() + 1, sizeof(raw));
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  EXPECT_EQ(std::get<ExecEvent>(event).filename, "/usr/local/bin/worker");
}

struct TruncationCase {
  const char* name;
  Record record;
};

TEST(EventDecoderTest, TruncatedRecordsAreRejected) {
  const TruncationCase cases[] = {
      {"empty fork", Record::Of(ForkRecord(), 0)},
      {"fork one short", Record::Of(ForkRecord(), sizeof(infrared_process_fork_event) - 1)},
      {"empty exec", Record::Of(ExecRecord(), 0)},
      {"exec one short", Record::Of(ExecRecord(), sizeof(infrared_process_exec_event) - 1)},
      {"exec header only", Record::Of(ExecRecord(), sizeof(infrared_process_event_header))},
      {"empty exit", Record::Of(ExitRecord(), 0)},
      {"exit one short", Record::Of(ExitRecord(), sizeof(infrared_process_exit_event) - 1)},
      {"exit header only", Record::Of(ExitRecord(), sizeof(infrared_process_event_header))},
  };
  for (const TruncationCase& c : cases) {
    SCOPED_TRACE(c.name);
    DecodedEvent event = c.record.Decode();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
    EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kTruncated);
  }
}

TEST(EventDecoderTest, EmptyRecordWithNullPointerIsTruncated) {
  DecodedEvent event = DecodeProcessEvent(nullptr, 0);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
  EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kTruncated);
}

TEST(EventDecoderTest, UnknownTypesAreRejected) {
  for (std::uint32_t type : {0u, 4u, 0xffffffffu}) {
    SCOPED_TRACE(type);
    infrared_process_exit_event raw = ExitRecord();
    raw.header.type = type;
    DecodedEvent event = Record::Of(raw).Decode();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
    EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kUnknownType);
  }
}

TEST(EventDecoderTest, PidZeroIsRejected) {
  for (std::uint32_t type : {INFRARED_PROCESS_FORK, INFRARED_PROCESS_EXEC, INFRARED_PROCESS_EXIT}) {
    SCOPED_TRACE(type);
    infrared_process_exit_event raw = ExitRecord();
    raw.header.type = type;
    raw.header.pid = 0;
    DecodedEvent event = Record::Of(raw).Decode();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
    EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kBadPid);
  }
}

TEST(EventDecoderTest, UnterminatedCommIsBounded) {
  infrared_process_exec_event raw = ExecRecord();
  std::memset(raw.header.comm, 'A', sizeof(raw.header.comm));
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  const auto& exec = std::get<ExecEvent>(event);
  EXPECT_EQ(exec.header.comm, std::string(INFRARED_COMM_LEN, 'A'));
  EXPECT_EQ(exec.filename, "/usr/local/bin/worker");
}

TEST(EventDecoderTest, UnterminatedFilenameIsBounded) {
  infrared_process_exec_event raw = ExecRecord();
  std::memset(raw.header.comm, 'A', sizeof(raw.header.comm));
  std::memset(raw.filename, 'A', sizeof(raw.filename));
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  const auto& exec = std::get<ExecEvent>(event);
  EXPECT_EQ(exec.header.comm, std::string(INFRARED_COMM_LEN, 'A'));
  EXPECT_EQ(exec.filename, std::string(INFRARED_FILENAME_LEN, 'A'));
}

TEST(EventDecoderTest, UnterminatedCommOfForkAtExactSizeIsBounded) {
  // A fork record is only the header: comm's last byte is the record's last.
  infrared_process_fork_event raw = ForkRecord();
  std::memset(raw.header.comm, 'A', sizeof(raw.header.comm));
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ForkEvent>(event));
  EXPECT_EQ(std::get<ForkEvent>(event).header.comm, std::string(INFRARED_COMM_LEN, 'A'));
}

TEST(EventDecoderTest, StringsStopAtFirstNul) {
  infrared_process_exec_event raw = ExecRecord();
  std::memset(raw.filename, 'B', sizeof(raw.filename));
  std::memcpy(raw.filename, "/bin/sh\0junk", 12);
  DecodedEvent event = Record::Of(raw).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  EXPECT_EQ(std::get<ExecEvent>(event).filename, "/bin/sh");
}

// An exec record with `args` and `env` copied whole, and the given sizes.
infrared_process_exec_event ExecWithStrings(const std::string& args, const std::string& env) {
  infrared_process_exec_event raw = ExecRecord();
  raw.args_size = raw.args_copied = static_cast<std::uint32_t>(args.size());
  raw.env_size = raw.env_copied = static_cast<std::uint32_t>(env.size());
  return raw;
}

TEST(EventDecoderTest, ExecCarriesItsArgumentsAndEnvironment) {
  const std::string args("nginx\0-c\0/etc/nginx.conf\0", 26);
  const std::string env("HOME=/\0OTEL_SERVICE_NAME=web\0", 29);
  DecodedEvent event = Record::Exec(ExecWithStrings(args, env), args + env).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  const auto& exec = std::get<ExecEvent>(event);
  EXPECT_EQ(exec.arguments.bytes, args);
  EXPECT_TRUE(exec.arguments.read);
  EXPECT_TRUE(exec.arguments.whole);
  EXPECT_EQ(exec.environment.bytes, env);
  EXPECT_TRUE(exec.environment.read);
  EXPECT_TRUE(exec.environment.whole);
}

TEST(EventDecoderTest, ExecStringsCutOrUnread) {
  const std::string args("a\0", 2);
  infrared_process_exec_event raw = ExecWithStrings(args, "HOME=/\0");
  raw.env_size = 40000;  // cut at the cap: 7 of 40,000 bytes
  DecodedEvent event = Record::Exec(raw, args + std::string("HOME=/\0", 7)).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  EXPECT_TRUE(std::get<ExecEvent>(event).environment.read);
  EXPECT_FALSE(std::get<ExecEvent>(event).environment.whole);

  raw.env_copied = 0;  // there, but not readable
  event = Record::Exec(raw, args).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  EXPECT_FALSE(std::get<ExecEvent>(event).environment.read);
  EXPECT_TRUE(std::get<ExecEvent>(event).arguments.read);

  raw.env_size = 0;  // an empty environment is read, and whole
  event = Record::Exec(raw, args).Decode();
  ASSERT_TRUE(std::holds_alternative<ExecEvent>(event));
  EXPECT_TRUE(std::get<ExecEvent>(event).environment.read);
  EXPECT_TRUE(std::get<ExecEvent>(event).environment.whole);
  EXPECT_EQ(std::get<ExecEvent>(event).environment.bytes, "");
}

TEST(EventDecoderTest, ExecStringsPastTheRecordAreTruncated) {
  const std::string args("nginx\0", 6);
  const std::string env("A=1\0", 4);
  const std::string strings = args + env;
  const infrared_process_exec_event raw = ExecWithStrings(args, env);
  for (std::size_t len = 0; len < strings.size(); ++len) {
    SCOPED_TRACE(len);
    DecodedEvent event = Record::Exec(raw, strings.substr(0, len)).Decode();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
    EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kTruncated);
  }
}

TEST(EventDecoderTest, ExecCopiesLongerThanTheirSizeOrCapAreBadLengths) {
  const std::string big(INFRARED_EXEC_ENV_MAX + 1, 'x');
  struct Case {
    const char* name;
    std::uint32_t args_size, args_copied, env_size, env_copied;
  };
  const Case cases[] = {
      {"args copied > size", 1, 2, 0, 0},
      {"env copied > size", 0, 0, 1, 2},
      {"args over the cap", INFRARED_EXEC_ARGS_MAX + 1, INFRARED_EXEC_ARGS_MAX + 1, 0, 0},
      {"env over the cap", 0, 0, INFRARED_EXEC_ENV_MAX + 1, INFRARED_EXEC_ENV_MAX + 1},
      {"copied near 2^32", 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    infrared_process_exec_event raw = ExecRecord();
    raw.args_size = c.args_size;
    raw.args_copied = c.args_copied;
    raw.env_size = c.env_size;
    raw.env_copied = c.env_copied;
    DecodedEvent event = Record::Exec(raw, big).Decode();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(event));
    EXPECT_EQ(std::get<DecodeError>(event), DecodeError::kBadLength);
  }
}

TEST(EventDecoderTest, ErrorNames) {
  EXPECT_STREQ(DecodeErrorName(DecodeError::kTruncated), "truncated");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kUnknownType), "unknown_type");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kBadPid), "bad_pid");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kBadLength), "bad_length");
}

}  // namespace
}  // namespace infrared::process
