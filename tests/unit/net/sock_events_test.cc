#include "agent/net/sock_events.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "infrared/abi/sockdata.h"

namespace infrared::net {
namespace {

constexpr std::size_t kDataHead = offsetof(infrared_sock_data_event, data);

// A record as the ring buffer hands it over: the raw struct's bytes, cut to `size`.
template <typename Raw>
std::vector<unsigned char> Bytes(const Raw& raw, std::size_t size = sizeof(Raw)) {
  std::vector<unsigned char> bytes(size, 0);
  std::memcpy(bytes.data(), &raw, std::min(size, sizeof(Raw)));
  return bytes;
}

SockEvent Decode(const std::vector<unsigned char>& record) {
  return DecodeSockEvent(record.data(), record.size());
}

infrared_sock_header Header(std::uint32_t type) {
  infrared_sock_header header{};
  header.type = type;
  header.tid = 4321;
  header.conn.pid = 1234;
  header.conn.fd = 7;
  header.conn.generation = 0x1122334455667788;
  header.timestamp_ns = 987654321;
  return header;
}

infrared_sock_open_event RawOpen(std::uint32_t role, std::uint16_t family) {
  infrared_sock_open_event raw{};
  raw.header = Header(INFRARED_SOCK_OPEN);
  raw.role = role;
  raw.family = family;
  raw.local_port = 8080;
  raw.remote_port = 54321;
  for (std::uint8_t i = 0; i < 16; ++i) {
    raw.local_addr[i] = static_cast<std::uint8_t>(i + 1);
    raw.remote_addr[i] = static_cast<std::uint8_t>(0xf0 + i);
  }
  return raw;
}

// A data record carrying `payload`, sized to the bytes it uses (as the BPF side sends).
std::vector<unsigned char> DataRecord(const std::string& payload, std::uint64_t offset,
                                      std::uint64_t call_bytes, std::uint32_t flags,
                                      std::uint32_t direction = INFRARED_DIR_EGRESS) {
  infrared_sock_data_event head{};
  head.header = Header(INFRARED_SOCK_DATA);
  head.direction = direction;
  head.flags = flags;
  head.call_bytes = call_bytes;
  head.offset = offset;
  head.captured = static_cast<std::uint32_t>(payload.size());
  std::vector<unsigned char> record(kDataHead + payload.size());
  std::memcpy(record.data(), &head, kDataHead);
  std::memcpy(record.data() + kDataHead, payload.data(), payload.size());
  return record;
}

void ExpectConn(const ConnId& conn) {
  EXPECT_EQ(conn.pid, 1234u);
  EXPECT_EQ(conn.fd, 7);
  EXPECT_EQ(conn.generation, 0x1122334455667788u);
}

struct OpenCase {
  const char* name;
  std::uint32_t raw_role;
  std::uint16_t family;
  Role role;
  bool ipv6;
};

class DecodeOpenTest : public ::testing::TestWithParam<OpenCase> {};

TEST_P(DecodeOpenTest, RoundTrips) {
  const OpenCase& c = GetParam();
  const infrared_sock_open_event raw = RawOpen(c.raw_role, c.family);
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<OpenEvent>(event));
  const OpenEvent& open = std::get<OpenEvent>(event);
  ExpectConn(open.conn);
  EXPECT_EQ(open.tid, 4321u);
  EXPECT_EQ(open.timestamp_ns, 987654321u);
  EXPECT_EQ(open.role, c.role);
  EXPECT_EQ(open.ipv6, c.ipv6);
  EXPECT_EQ(open.local.port, 8080);
  EXPECT_EQ(open.remote.port, 54321);
  for (std::size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(open.local.address[i], raw.local_addr[i]) << i;
    EXPECT_EQ(open.remote.address[i], raw.remote_addr[i]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecodeOpenTest,
    ::testing::Values(OpenCase{"ConnectIpv4", INFRARED_ROLE_CONNECT, AF_INET, Role::kClient, false},
                      OpenCase{"AcceptIpv6", INFRARED_ROLE_ACCEPT, AF_INET6, Role::kServer, true},
                      OpenCase{"UnknownIpv4", INFRARED_ROLE_UNKNOWN, AF_INET, Role::kUnknown,
                               false},
                      OpenCase{"BadRoleIpv6", 77, AF_INET6, Role::kUnknown, true}),
    [](const ::testing::TestParamInfo<OpenCase>& param_info) { return param_info.param.name; });

TEST(DecodeSockEventTest, OpenIpv4KeepsAddressBytesInOrder) {
  infrared_sock_open_event raw = RawOpen(INFRARED_ROLE_CONNECT, AF_INET);
  const std::uint8_t local[4] = {127, 0, 0, 1};
  const std::uint8_t remote[4] = {10, 1, 2, 3};
  std::memset(raw.local_addr, 0, sizeof(raw.local_addr));
  std::memset(raw.remote_addr, 0, sizeof(raw.remote_addr));
  std::memcpy(raw.local_addr, local, 4);
  std::memcpy(raw.remote_addr, remote, 4);
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<OpenEvent>(event));
  const OpenEvent& open = std::get<OpenEvent>(event);
  EXPECT_EQ(open.local.address[0], 127);
  EXPECT_EQ(open.local.address[3], 1);
  EXPECT_EQ(open.remote.address[0], 10);
  EXPECT_EQ(open.remote.address[3], 3);
  EXPECT_EQ(open.remote.address[4], 0);
}

TEST(DecodeSockEventTest, TlsStreamOpenCarriesTheSocketBeneath) {
  infrared_sock_open_event raw = RawOpen(INFRARED_ROLE_CONNECT, AF_INET);
  raw.header.conn.fd = INFRARED_TLS_FD;
  raw.socket_fd = 19;
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<OpenEvent>(event));
  const OpenEvent& open = std::get<OpenEvent>(event);
  EXPECT_TRUE(open.conn.tls());
  EXPECT_EQ(open.socket_fd, 19);
  EXPECT_FALSE(ConnId({1234, 7, 1}).tls());
}

TEST(DecodeSockEventTest, LibraryEventNamesTheProcess) {
  infrared_sock_library_event raw{};
  raw.header = Header(INFRARED_SOCK_LIBRARY);
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<LibraryEvent>(event));
  EXPECT_EQ(std::get<LibraryEvent>(event).pid, 1234u);
  EXPECT_EQ(std::get<LibraryEvent>(event).timestamp_ns, 987654321u);
}

TEST(DecodeSockEventTest, TlsSocketEventNamesTheConnection) {
  infrared_sock_tls_socket_event raw{};
  raw.header = Header(INFRARED_SOCK_TLS_SOCKET);
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<TlsSocketEvent>(event));
  ExpectConn(std::get<TlsSocketEvent>(event).conn);
  EXPECT_EQ(std::get<TlsSocketEvent>(event).timestamp_ns, 987654321u);
}

struct DataCase {
  const char* name;
  std::size_t captured;
  std::uint64_t offset;
  std::uint64_t call_bytes;
  std::uint32_t flags;
  std::uint32_t direction;
  bool last;
  Direction decoded_direction;
};

class DecodeDataTest : public ::testing::TestWithParam<DataCase> {};

TEST_P(DecodeDataTest, RoundTrips) {
  const DataCase& c = GetParam();
  std::string payload(c.captured, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const std::vector<unsigned char> record =
      DataRecord(payload, c.offset, c.call_bytes, c.flags, c.direction);
  const SockEvent event = Decode(record);
  ASSERT_TRUE(std::holds_alternative<DataEvent>(event));
  const DataEvent& data = std::get<DataEvent>(event);
  ExpectConn(data.conn);
  EXPECT_EQ(data.tid, 4321u);
  EXPECT_EQ(data.timestamp_ns, 987654321u);
  EXPECT_EQ(data.direction, c.decoded_direction);
  EXPECT_EQ(data.last, c.last);
  EXPECT_EQ(data.call_bytes, c.call_bytes);
  EXPECT_EQ(data.offset, c.offset);
  EXPECT_EQ(data.data, payload);
  // The bytes are not copied: they are the record's own.
  if (!payload.empty()) {
    EXPECT_EQ(static_cast<const void*>(data.data.data()),
              static_cast<const void*>(record.data() + kDataHead));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecodeDataTest,
    ::testing::Values(DataCase{"EmptyTail", 0, 16384, 100000, INFRARED_SOCK_LAST,
                               INFRARED_DIR_INGRESS, true, Direction::kIngress},
                      DataCase{"EmptyCall", 0, 0, 0, INFRARED_SOCK_LAST, INFRARED_DIR_EGRESS, true,
                               Direction::kEgress},
                      DataCase{"SomeBytes", 5, 0, 5, INFRARED_SOCK_LAST, INFRARED_DIR_EGRESS, true,
                               Direction::kEgress},
                      DataCase{"FullChunkFirst", INFRARED_SOCK_CHUNK, 0, 40000, 0,
                               INFRARED_DIR_INGRESS, false, Direction::kIngress},
                      DataCase{"FullChunkEndsCall", INFRARED_SOCK_CHUNK, 16384, 32768,
                               INFRARED_SOCK_LAST, INFRARED_DIR_EGRESS, true, Direction::kEgress},
                      DataCase{"UnknownFlagBitsIgnored", 3, 7, 10, 0xfffffffe, INFRARED_DIR_INGRESS,
                               false, Direction::kIngress}),
    [](const ::testing::TestParamInfo<DataCase>& param_info) { return param_info.param.name; });

TEST(DecodeSockEventTest, DataRecordOfFullStructSize) {
  infrared_sock_data_event raw{};
  raw.header = Header(INFRARED_SOCK_DATA);
  raw.direction = INFRARED_DIR_INGRESS;
  raw.flags = INFRARED_SOCK_LAST;
  raw.call_bytes = 2;
  raw.captured = 2;
  raw.data[0] = 'o';
  raw.data[1] = 'k';
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<DataEvent>(event));
  EXPECT_EQ(std::get<DataEvent>(event).data, "ok");
}

TEST(DecodeSockEventTest, CloseRoundTrips) {
  infrared_sock_close_event raw{Header(INFRARED_SOCK_CLOSE), {}};
  raw.loss[0].bytes = 300;
  raw.loss[0].starts = 2;
  raw.loss[1].bytes = 7;
  raw.loss[1].starts = 1;
  const SockEvent event = Decode(Bytes(raw));
  ASSERT_TRUE(std::holds_alternative<CloseEvent>(event));
  const CloseEvent& close = std::get<CloseEvent>(event);
  ExpectConn(close.conn);
  EXPECT_EQ(close.timestamp_ns, 987654321u);
  EXPECT_EQ(close.lost[0].bytes, 300u);
  EXPECT_EQ(close.lost[0].starts, 2u);
  EXPECT_EQ(close.lost[1].bytes, 7u);
  EXPECT_EQ(close.lost[1].starts, 1u);
}

struct ErrorCase {
  const char* name;
  std::vector<unsigned char> record;
  SockDecodeError error;
};

std::vector<unsigned char> WithCaptured(std::vector<unsigned char> record, std::uint32_t captured) {
  std::memcpy(record.data() + offsetof(infrared_sock_data_event, captured), &captured,
              sizeof(captured));
  return record;
}

std::vector<unsigned char> Cut(std::vector<unsigned char> record, std::size_t size) {
  record.resize(size);
  return record;
}

std::vector<ErrorCase> ErrorCases() {
  const auto open = Bytes(RawOpen(INFRARED_ROLE_CONNECT, AF_INET));
  const auto close = Bytes(infrared_sock_close_event{Header(INFRARED_SOCK_CLOSE), {}});
  const auto data = DataRecord("hello", 0, 5, INFRARED_SOCK_LAST);
  const std::string chunk(INFRARED_SOCK_CHUNK, 'x');
  const std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  return {
      {"Empty", {}, SockDecodeError::kTruncated},
      {"ShortHeader", Cut(close, sizeof(infrared_sock_header) - 1), SockDecodeError::kTruncated},
      {"OpenShort", Cut(open, sizeof(infrared_sock_open_event) - 1), SockDecodeError::kTruncated},
      {"OpenHeaderOnly", Cut(open, sizeof(infrared_sock_header)), SockDecodeError::kTruncated},
      {"DataShortHead", Cut(data, kDataHead - 1), SockDecodeError::kTruncated},
      {"DataHeaderOnly", Cut(data, sizeof(infrared_sock_header)), SockDecodeError::kTruncated},
      {"CapturedBeyondRecord", Cut(data, kDataHead + 4), SockDecodeError::kBadLength},
      {"CapturedBeyondChunk",
       WithCaptured(DataRecord(chunk + "y", 0, INFRARED_SOCK_CHUNK + 1, INFRARED_SOCK_LAST),
                    INFRARED_SOCK_CHUNK + 1),
       SockDecodeError::kBadLength},
      {"CapturedHuge", WithCaptured(data, 0xffffffff), SockDecodeError::kBadLength},
      {"BeyondCallBytes", DataRecord("hello", 0, 4, INFRARED_SOCK_LAST),
       SockDecodeError::kBadLength},
      {"OffsetBeyondCallBytes", DataRecord("hello", 10, 12, INFRARED_SOCK_LAST),
       SockDecodeError::kBadLength},
      {"EmptyOffsetBeyondCallBytes", DataRecord("", kMax, 12, INFRARED_SOCK_LAST),
       SockDecodeError::kBadLength},
      {"NoDirection", DataRecord("hello", 0, 5, INFRARED_SOCK_LAST, 0),
       SockDecodeError::kBadDirection},
      {"BadDirection", DataRecord("hello", 0, 5, INFRARED_SOCK_LAST, 3),
       SockDecodeError::kBadDirection},
      {"TypeZero", Bytes(infrared_sock_close_event{Header(0), {}}), SockDecodeError::kUnknownType},
      {"TypeSix", Bytes(infrared_sock_close_event{Header(6), {}}), SockDecodeError::kUnknownType},
  };
}

class DecodeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(DecodeErrorTest, Rejects) {
  const SockEvent event = Decode(GetParam().record);
  ASSERT_TRUE(std::holds_alternative<SockDecodeError>(event)) << event.index();
  EXPECT_EQ(std::get<SockDecodeError>(event), GetParam().error)
      << SockDecodeErrorName(std::get<SockDecodeError>(event));
}

INSTANTIATE_TEST_SUITE_P(Table, DecodeErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& param_info) {
                           return param_info.param.name;
                         });

// offset + captured must not wrap around: an offset past the end of the call
// is as bad as too many bytes.
TEST(DecodeSockEventTest, OffsetPlusCapturedWrappingIsBadLength) {
  const std::uint64_t offset = std::numeric_limits<std::uint64_t>::max() - 1;
  const SockEvent event = Decode(DataRecord("abcd", offset, 16, INFRARED_SOCK_LAST));
  const DataEvent* decoded = std::get_if<DataEvent>(&event);
  ASSERT_EQ(decoded, nullptr) << "decoded offset " << decoded->offset << " + 4 bytes in a "
                              << decoded->call_bytes << "-byte call";
  ASSERT_TRUE(std::holds_alternative<SockDecodeError>(event));
  EXPECT_EQ(std::get<SockDecodeError>(event), SockDecodeError::kBadLength);
}

TEST(DecodeSockEventTest, CloseRecordMayCarryTrailingBytes) {
  std::vector<unsigned char> record = Bytes(infrared_sock_close_event{Header(INFRARED_SOCK_CLOSE), {}});
  record.resize(record.size() + 8, 0xee);
  EXPECT_TRUE(std::holds_alternative<CloseEvent>(Decode(record)));
}

TEST(DecodeSockEventTest, ErrorNames) {
  EXPECT_STREQ(SockDecodeErrorName(SockDecodeError::kTruncated), "truncated");
  EXPECT_STREQ(SockDecodeErrorName(SockDecodeError::kUnknownType), "unknown_type");
  EXPECT_STREQ(SockDecodeErrorName(SockDecodeError::kBadLength), "bad_length");
  EXPECT_STREQ(SockDecodeErrorName(SockDecodeError::kBadDirection), "bad_direction");
}

}  // namespace
}  // namespace infrared::net
