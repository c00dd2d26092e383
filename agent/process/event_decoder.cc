#include "agent/process/event_decoder.h"

#include <cstring>

namespace infrared::process {
namespace {

// The ABI is fixed: a change in these sizes is a change in the contract with
// bpf/process.bpf.c and must be made on both sides.
static_assert(sizeof(infrared_process_event_header) == 40);
static_assert(sizeof(infrared_process_fork_event) == 40);
static_assert(sizeof(infrared_process_exec_event) == 40 + INFRARED_FILENAME_LEN + 16);
static_assert(sizeof(infrared_proc_stats) == 80);
static_assert(sizeof(infrared_process_exit_event) == 40 + 8 + 80);

std::string BoundedString(const char* bytes, std::size_t capacity) {
  return std::string(bytes, strnlen(bytes, capacity));
}

EventHeader DecodeHeader(const infrared_process_event_header& raw) {
  EventHeader header;
  header.pid = raw.pid;
  header.ppid = raw.ppid;
  header.tid = raw.tid;
  header.timestamp_ns = raw.timestamp_ns;
  header.comm = BoundedString(raw.comm, sizeof(raw.comm));
  return header;
}

ExecStrings Strings(const char* bytes, std::uint32_t copied, std::uint32_t size) {
  ExecStrings strings;
  strings.read = copied != 0 || size == 0;
  strings.whole = copied == size;
  strings.bytes.assign(bytes, copied);
  return strings;
}

template <typename Raw>
bool CopyIfWhole(const void* data, std::size_t size, Raw& out) {
  if (size < sizeof(Raw)) return false;
  std::memcpy(&out, data, sizeof(Raw));
  return true;
}

}  // namespace

DecodedEvent DecodeProcessEvent(const void* data, std::size_t size) {
  infrared_process_event_header raw_header;
  if (!CopyIfWhole(data, size, raw_header)) return DecodeError::kTruncated;
  if (raw_header.pid == 0) return DecodeError::kBadPid;

  switch (raw_header.type) {
    case INFRARED_PROCESS_FORK:
      return ForkEvent{DecodeHeader(raw_header)};
    case INFRARED_PROCESS_EXEC: {
      infrared_process_exec_event raw;
      if (!CopyIfWhole(data, size, raw)) return DecodeError::kTruncated;
      if (raw.args_copied > raw.args_size || raw.args_copied > INFRARED_EXEC_ARGS_MAX ||
          raw.env_copied > raw.env_size || raw.env_copied > INFRARED_EXEC_ENV_MAX) {
        return DecodeError::kBadLength;
      }
      if (size - sizeof(raw) < std::size_t{raw.args_copied} + raw.env_copied) {
        return DecodeError::kTruncated;
      }
      const char* strings = static_cast<const char*>(data) + sizeof(raw);
      return ExecEvent{DecodeHeader(raw.header), BoundedString(raw.filename, sizeof(raw.filename)),
                       Strings(strings, raw.args_copied, raw.args_size),
                       Strings(strings + raw.args_copied, raw.env_copied, raw.env_size)};
    }
    case INFRARED_PROCESS_EXIT: {
      infrared_process_exit_event raw;
      if (!CopyIfWhole(data, size, raw)) return DecodeError::kTruncated;
      return ExitEvent{DecodeHeader(raw.header), raw.exit_code, raw.has_stats != 0, raw.stats};
    }
    default:
      return DecodeError::kUnknownType;
  }
}

const char* DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kUnknownType:
      return "unknown_type";
    case DecodeError::kBadPid:
      return "bad_pid";
    case DecodeError::kBadLength:
      return "bad_length";
  }
  return "unknown";
}

}  // namespace infrared::process
