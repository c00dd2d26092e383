/* What the socket probes (sockdata.bpf.c) and the TLS probes (tls.bpf.c) share:
 * the payload ring buffer, the capture selection, the counters, the TLS
 * bookkeeping maps, and the chunked copy of a user buffer into events.
 *
 * Both objects define these maps; the agent loads sockdata first and hands
 * its map fds to the TLS object (bpf_map__reuse_fd), so that both write one
 * ring buffer, in one order per thread, and meet in the TLS maps. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "infrared/abi/sockdata.h"
#include "lib/sock.bpf.h"

/* Chunks one call may send: the per-call limit is at most this many chunks. */
#define MAX_CHUNKS_PER_CALL 8

/* Set by the agent between open and load, the same in both objects. */
const volatile bool capture_all = true; /* else only tgids in `selected` */
const volatile __u32 self_tgid = 0;     /* the agent never captures itself */
/* How many bytes of one call are copied: a map the agent writes after load,
 * not read-only data, so that the verifier sees the budget as any value and
 * walks the copying loop once; a constant budget of eight chunks had it walk
 * every iteration apart, past its instruction limit. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct infrared_capture_limits);
} capture_limits SEC(".maps");
/* Userspace is woken only once a CPU has written this much since it last
 * woke it; it also polls on a timer, so a quiet connection's bytes wait at
 * most one poll interval. Waking it for every record costs more than the
 * copying does, and so would asking the ring buffer how full it is (a helper
 * call per record). */
const volatile __u64 wakeup_bytes = 256 << 10;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} unwoken_bytes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);
} sock_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32); /* tgid */
  __type(value, __u8);
} selected SEC(".maps");

/* Opens that found the ring buffer full, parked here for the agent to take:
 * it hands them on before it drains the ring buffer, so that a connection's
 * addresses and role are known before its first data. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct infrared_conn_id);
  __type(value, struct infrared_sock_open_event);
} parked_opens SEC(".maps");

/* Closes that found the ring buffer full, parked here with their loss counts
 * for the agent to take (it takes them before it drains the ring buffer, so
 * that every event of the connection sent before its close is read first). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct infrared_conn_id);
  __type(value, struct infrared_sock_close_event);
} parked_closes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, INFRARED_SOCK_DROP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} sock_drops SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, INFRARED_SOCK_COUNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} sock_counters SEC(".maps");

/* Each object's own: one event being filled, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct infrared_sock_data_event);
} scratch SEC(".maps");

/* --- TLS bookkeeping ----------------------------------------------------------- */

/* A call into a TLS library, between its entry and return uprobes: OpenSSL's
 * are keyed by thread (goroutine 0), Go's by goroutine (tid 0), since a
 * goroutine may return on another thread than it entered on. */
struct tls_call_key {
  __u32 tgid;
  __u32 tid;
  __u64 goroutine;
};

struct tls_call {
  __u64 stream;     /* SSL* or *tls.Conn; 0 once the call returned */
  __u64 buffer;     /* the plaintext */
  __u64 length_ptr; /* size_t* of SSL_read_ex / SSL_write_ex, else 0 */
  __u64 sk;         /* the socket a syscall inside the call used */
  __u32 direction;
  __s32 fd; /* -1 until a syscall inside the call tells */
  __u32 role;
  __u32 sent; /* its bytes were sent at the entry (Go writes) */
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct tls_call_key);
  __type(value, struct tls_call);
} tls_calls SEC(".maps");

/* The Go call a thread is inside, for the socket syscalls it makes there
 * (OpenSSL calls are keyed by thread already). LRU: a thread that dies inside
 * a call leaves its entry to age out. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct tls_call_key);
} tls_threads SEC(".maps");

/* A thread's last syscall on a TLS connection: the socket of a TLS call that
 * made none (node drives OpenSSL through memory BIOs: it reads the ciphertext
 * before SSL_read, and writes it after SSL_write returns). */
struct tls_socket {
  __u64 sk;
  __s32 fd;
  __u32 role;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct tls_socket);
} tls_last_socket SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct infrared_tls_stream_key);
  __type(value, struct infrared_tls_stream);
} tls_streams SEC(".maps");

/* A TLS stream's key by its (pid, generation), which is all the agent knows of
 * it: set_flags finds the stream to flag through it, where the agent would
 * otherwise walk tls_streams (two syscalls a stream) for every new one. */
struct tls_stream_id {
  __u32 pid;
  __u32 reserved;
  __u64 generation;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct tls_stream_id);
  __type(value, struct infrared_tls_stream_key);
} tls_stream_keys SEC(".maps");

/* --- small helpers ------------------------------------------------------------- */

static __always_inline void bump(void *map, __u32 index) {
  __u64 *count = bpf_map_lookup_elem(map, &index);
  if (count)
    *count += 1;
}

/* Bytes of one call to copy on a connection with these flags. */
static __always_inline __u64 capture_budget(__u32 flags) {
  __u32 zero = 0;
  struct infrared_capture_limits *limits = bpf_map_lookup_elem(&capture_limits, &zero);
  if (!limits)
    return 0;
  return (flags & INFRARED_CONN_LLM) ? limits->llm_bytes_per_call : limits->bytes_per_call;
}

static __always_inline bool is_selected(__u32 tgid) {
  return tgid != self_tgid && (capture_all || bpf_map_lookup_elem(&selected, &tgid));
}

/* is_selected, counting the calls of processes not selected. */
static __always_inline bool wanted(__u32 tgid) {
  if (is_selected(tgid))
    return true;
  if (tgid != self_tgid)
    bump(&sock_counters, INFRARED_SOCK_COUNT_UNSELECTED_CALLS);
  return false;
}

/* The flag to submit a record of `size` bytes with. */
static __always_inline __u64 wakeup_flag(__u64 size) {
  __u32 zero = 0;
  __u64 *unwoken = bpf_map_lookup_elem(&unwoken_bytes, &zero);
  if (!unwoken)
    return BPF_RB_NO_WAKEUP;
  *unwoken += size;
  if (*unwoken < wakeup_bytes)
    return BPF_RB_NO_WAKEUP;
  *unwoken = 0;
  return BPF_RB_FORCE_WAKEUP;
}

/* After an output found the ring buffer full: its wakeup, if it carried one,
 * never went out, so this CPU's next record that fits wakes the reader. */
static __always_inline void ring_full(void) {
  __u32 zero = 0;
  __u64 *unwoken = bpf_map_lookup_elem(&unwoken_bytes, &zero);
  if (unwoken)
    *unwoken = wakeup_bytes;
}

static __always_inline void fill_header(struct infrared_sock_header *header, __u32 type, __u32 pid,
                                        __s32 fd, __u64 generation) {
  header->type = type;
  header->tid = (__u32)bpf_get_current_pid_tgid();
  header->conn.pid = pid;
  header->conn.fd = fd;
  header->conn.generation = generation;
  header->timestamp_ns = bpf_ktime_get_ns();
}

/* Sends the close of a connection or stream with what its directions lost;
 * parks it when the ring buffer is full (or its open is parked). */
static __always_inline void emit_close(__u32 pid, __s32 fd, __u64 generation,
                                       const struct infrared_stream_loss loss[2]) {
  struct infrared_sock_close_event event = {};
  fill_header(&event.header, INFRARED_SOCK_CLOSE, pid, fd, generation);
  event.loss[0] = loss[0];
  event.loss[1] = loss[1];
  /* A close whose open is still parked is parked too: the agent hands it on
   * after the open, instead of before it (which would leave the open to make
   * the connection anew once it is gone). */
  if (!bpf_map_lookup_elem(&parked_opens, &event.header.conn)) {
    if (bpf_ringbuf_output(&sock_events, &event, sizeof(event), wakeup_flag(sizeof(event))) == 0)
      return;
    ring_full();
  }
  if (bpf_map_update_elem(&parked_closes, &event.header.conn, &event, BPF_ANY))
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
}

/* Announces a connection (or the socket beneath a TLS stream, fd
 * INFRARED_TLS_FD) with the endpoints of `sk`; parks it when the ring buffer
 * is full. */
static __always_inline void emit_open(__u32 pid, __s32 fd, __u64 generation, __u32 role,
                                      struct sock *sk, __s32 socket_fd) {
  struct infrared_sock_open_event event = {};
  fill_header(&event.header, INFRARED_SOCK_OPEN, pid, fd, generation);
  event.role = role;
  event.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  event.local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  event.remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  event.socket_fd = socket_fd;
  if (event.family == INFRARED_AF_INET) {
    __u32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(event.local_addr, &local, sizeof(local));
    __builtin_memcpy(event.remote_addr, &remote, sizeof(remote));
  } else {
    struct in6_addr local = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
    struct in6_addr remote = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
    __builtin_memcpy(event.local_addr, &local, sizeof(local));
    __builtin_memcpy(event.remote_addr, &remote, sizeof(remote));
  }
  if (bpf_ringbuf_output(&sock_events, &event, sizeof(event), wakeup_flag(sizeof(event))) == 0)
    return;
  ring_full();
  if (bpf_map_update_elem(&parked_opens, &event.header.conn, &event, BPF_ANY))
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
}

/* --- copying a call's bytes ------------------------------------------------------ */

/* Copying state of one call, walked by bpf_loop so that the verifier checks
 * the step once instead of every unrolled iteration. */
struct copy_state {
  const char *segment; /* current contiguous source */
  __u64 segment_length;
  __u64 segment_done;
  const struct iovec *iov; /* NULL for a plain buffer */
  __u32 iovcnt;
  __u32 iov_next;
  __u64 total;  /* bytes the call moved */
  __u64 offset; /* of the next byte to send, within the call */
  __u64 budget; /* bytes still allowed by capture_budget() */
  bool lost;       /* an event found the ring buffer full: the rest is not sent */
  bool lost_start; /* ... and it was the call's first, beginning an HTTP/1 message */
};

/* Whether a call's first bytes begin an HTTP/1 request line: an upper-case
 * token of three bytes or more, then a space. Only to count the requests of
 * calls not delivered; userspace does the parsing. */
static __always_inline bool request_start(const char *data, __u64 size) {
  if (size < 8)
    return false;
  for (int i = 0; i < 8; i++) {
    char c = data[i];
    if (c == ' ')
      return i >= 3;
    if (c < 'A' || c > 'Z')
      return false;
  }
  return false;
}

/* Whether a call's first bytes begin an HTTP/1 message: "HTTP/" (a response)
 * or a request line. */
static __always_inline bool message_start(const char *data, __u64 size) {
  if (size < 8)
    return false;
  if (data[0] == 'H' && data[1] == 'T' && data[2] == 'T' && data[3] == 'P' && data[4] == '/')
    return true;
  return request_start(data, size);
}

/* A call on a connection or stream flagged INFRARED_CONN_COUNT, not copied:
 * counted, and counted as a request when its first 8 bytes, `head` (if it
 * could be read), begin one. */
static __always_inline void count_unparsed(const char head[8], bool readable) {
  bump(&sock_counters, INFRARED_SOCK_COUNT_UNTRACKED_CALLS);
  if (readable && request_start(head, 8))
    bump(&sock_counters, INFRARED_SOCK_COUNT_UNTRACKED_REQUESTS);
}

/* count_unparsed for a call of `size` bytes from user memory at `start`. */
static __always_inline void count_unparsed_buffer(const void *start, __u64 size) {
  char head[8];
  count_unparsed(head, size >= sizeof(head) && !bpf_probe_read_user(head, sizeof(head), start));
}

/* One step: start the next iovec, or send one chunk of the current one. */
static long copy_step(__u64 index, struct copy_state *state) {
  if (state->budget == 0 || state->offset >= state->total)
    return 1;
  if (state->segment_done >= state->segment_length) {
    if (!state->iov || state->iov_next >= state->iovcnt)
      return 1;
    if (state->iov_next >= INFRARED_SOCK_MAX_IOV) {
      bump(&sock_drops, INFRARED_SOCK_DROP_IOV_CUT);
      return 1;
    }
    struct iovec entry;
    if (bpf_probe_read_user(&entry, sizeof(entry), &state->iov[state->iov_next & 0xff]))
      return 1;
    state->iov_next++;
    state->segment = entry.iov_base;
    state->segment_length = entry.iov_len;
    if (state->segment_length > state->total - state->offset)
      state->segment_length = state->total - state->offset;
    state->segment_done = 0;
    return 0;
  }
  __u32 zero = 0;
  struct infrared_sock_data_event *event = bpf_map_lookup_elem(&scratch, &zero);
  if (!event)
    return 1;
  __u64 size = state->segment_length - state->segment_done;
  if (size > state->budget)
    size = state->budget;
  if (size > INFRARED_SOCK_CHUNK)
    size = INFRARED_SOCK_CHUNK;
  size &= (INFRARED_SOCK_CHUNK << 1) - 1; /* bounds the verifier can see */
  if (size == 0 || size > INFRARED_SOCK_CHUNK ||
      bpf_probe_read_user(event->data, size, state->segment + state->segment_done)) {
    /* Unreadable: skip the segment; userspace sees the gap in the offsets. */
    state->offset += state->segment_length - state->segment_done;
    state->segment_done = state->segment_length;
    return 0;
  }
  event->offset = state->offset;
  event->captured = size;
  event->flags = (state->offset + size == state->total) ? INFRARED_SOCK_LAST : 0;
  __u64 record = offsetof(struct infrared_sock_data_event, data) + size;
  if (bpf_ringbuf_output(&sock_events, event, record, wakeup_flag(record))) {
    ring_full();
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
    state->lost = true;
    state->lost_start = state->offset == 0 && message_start(event->data, size);
    return 1;
  }
  bump(&sock_counters, INFRARED_SOCK_COUNT_DATA_EVENTS);
  state->segment_done += size;
  state->offset += size;
  state->budget -= size;
  return 0;
}

/* Sends the `state->total` bytes a call moved as data events of the
 * connection or stream (pid, fd, generation): chunks up to the capture limit,
 * then, for whatever was not copied (sendfile, the limit, cut iovecs), a last,
 * empty event at the end of what was, so that userspace knows the call's full
 * length. Every event of the call carries the time of its first. */
static __always_inline void send_call(struct copy_state *state, __u32 pid, __s32 fd,
                                      __u64 generation, __u32 direction, bool copy,
                                      struct infrared_stream_loss *loss) {
  __u32 zero = 0;
  struct infrared_sock_data_event *event = bpf_map_lookup_elem(&scratch, &zero);
  if (!event)
    return;
  fill_header(&event->header, INFRARED_SOCK_DATA, pid, fd, generation);
  event->direction = direction;
  event->flags = 0;
  event->call_bytes = state->total;
  event->offset = 0;
  event->captured = 0;
  event->lost_starts = loss->starts;
  event->lost_bytes = loss->bytes;
  if (copy)
    bpf_loop(2 * INFRARED_SOCK_MAX_IOV + MAX_CHUNKS_PER_CALL, copy_step, state, 0);
  if (state->lost) { /* the rest of the call, counted instead of sent */
    __sync_fetch_and_add(&loss->bytes, state->total - state->offset);
    if (state->lost_start)
      __sync_fetch_and_add(&loss->starts, 1);
    return;
  }

  event = bpf_map_lookup_elem(&scratch, &zero);
  if (!event)
    return;
  event->offset = state->offset;
  if (event->offset < state->total) {
    if (copy)
      bump(&sock_drops, INFRARED_SOCK_DROP_CAPTURE_CAP);
    event->captured = 0;
    event->flags = INFRARED_SOCK_LAST;
    __u64 record = offsetof(struct infrared_sock_data_event, data);
    if (bpf_ringbuf_output(&sock_events, event, record, wakeup_flag(record))) {
      ring_full();
      bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
      __sync_fetch_and_add(&loss->bytes, state->total - state->offset);
    }
  }
}
