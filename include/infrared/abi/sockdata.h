/* Socket payload capture: the contract between bpf/sockdata.bpf.c and the agent.
 * Plain C, fixed-width types, no implicit padding; sizes are static_asserted in
 * agent/net/sock_events.cc. */
#ifndef INFRARED_ABI_SOCKDATA_H
#define INFRARED_ABI_SOCKDATA_H

#ifdef __bpf__
/* vmlinux.h provides __u32 and friends. */
#else
#include <linux/types.h>
#endif

/* Most payload bytes one event carries; a longer call is split into several. */
#define INFRARED_SOCK_CHUNK 16384
/* iovec entries looked at per call; bytes in later entries are counted, not copied. */
#define INFRARED_SOCK_MAX_IOV 16

enum infrared_sock_event_type {
  INFRARED_SOCK_OPEN = 1,  /* a TCP connection was connected, accepted or first seen */
  INFRARED_SOCK_DATA = 2,  /* bytes written to or read from it */
  INFRARED_SOCK_CLOSE = 3, /* its fd was closed (a TLS stream: SSL_shutdown, SSL_free, Close) */
  INFRARED_SOCK_LIBRARY = 4, /* a process mapped a file named like a TLS library (libssl.so*) */
  /* the connection's bytes are TLS records: not copied, its plaintext comes
   * as a TLS stream's (the agent need not follow it) */
  INFRARED_SOCK_TLS_SOCKET = 5,
};

/* The fd in the id of a TLS stream. A TLS stream is keyed by (pid, SSL* or Go
 * *tls.Conn), unique per TLS connection whatever the program does with its
 * sockets; the socket beneath, when found, is told by an OPEN event with this
 * id carrying its endpoints. */
#define INFRARED_TLS_FD (-1)

enum infrared_sock_role {
  INFRARED_ROLE_UNKNOWN = 0, /* existed before the agent, or missed */
  INFRARED_ROLE_CONNECT = 1, /* this process called connect(): a client */
  INFRARED_ROLE_ACCEPT = 2,  /* this process accepted it: a server */
};

enum infrared_sock_direction {
  INFRARED_DIR_EGRESS = 1,  /* written by the process */
  INFRARED_DIR_INGRESS = 2, /* read by the process */
};

/* Flags of a data event. */
#define INFRARED_SOCK_LAST 1u /* the last event of this syscall */

/* A connection: the fd of a process, and when the agent first saw it open, so
 * that a reused fd is a new connection. */
struct infrared_conn_id {
  __u32 pid; /* tgid */
  __s32 fd;
  __u64 generation; /* bpf_ktime_get_ns() at open (or first sight) */
};

struct infrared_sock_header {
  __u32 type; /* enum infrared_sock_event_type */
  __u32 tid;
  struct infrared_conn_id conn;
  __u64 timestamp_ns; /* CLOCK_MONOTONIC, when the syscall returned */
};

struct infrared_sock_open_event {
  struct infrared_sock_header header;
  __u32 role;   /* enum infrared_sock_role */
  __u16 family; /* AF_INET or AF_INET6 */
  __u16 local_port;
  __u16 remote_port;
  __u16 reserved;
  __s32 socket_fd; /* the socket's fd: for a TLS stream, the one beneath it */
  __u8 local_addr[16]; /* IPv4 in the first 4 bytes */
  __u8 remote_addr[16];
};

/* What one direction of a connection or TLS stream lost to a full ring
 * buffer: once an event of a call cannot be reserved, the rest of that call is
 * not sent and counted here. Cumulative; every data event carries the values
 * of its direction, so userspace knows the exact size of each gap and how many
 * HTTP/1 messages began in it (exact when messages begin at the start of a
 * read or write, as clients and servers do unless they pipeline). */
struct infrared_stream_loss {
  __u64 bytes;  /* bytes of calls not delivered */
  __u32 starts; /* lost calls whose first bytes began an HTTP/1 message */
  __u32 reserved;
};

struct infrared_sock_data_event {
  struct infrared_sock_header header;
  __u32 direction;   /* enum infrared_sock_direction */
  __u32 flags;       /* INFRARED_SOCK_* */
  __u64 call_bytes;  /* bytes the syscall moved in all (its return value) */
  __u64 offset;      /* where data[0] sits within those bytes */
  __u32 captured;    /* bytes of data[] that are valid */
  __u32 lost_starts; /* infrared_stream_loss.starts of this direction, before this call */
  __u64 lost_bytes;  /* infrared_stream_loss.bytes of this direction, before this call */
  char data[INFRARED_SOCK_CHUNK];
};

struct infrared_sock_close_event {
  struct infrared_sock_header header;
  struct infrared_stream_loss loss[2]; /* egress, ingress: what the last calls lost */
};

/* header.conn.pid mapped a file named like a TLS library, executable. */
struct infrared_sock_library_event {
  struct infrared_sock_header header;
};

/* header.conn carries TLS records (INFRARED_SOCK_TLS_SOCKET). */
struct infrared_sock_tls_socket_event {
  struct infrared_sock_header header;
};

/* Flags of a connection (struct conn_info in bpf/lib/conn.bpf.h: the agent's
 * in one word, the kernel's SEEN, and SKIP|TLS for TLS records, in another)
 * and of a TLS stream (the agent's only). */
#define INFRARED_CONN_SKIP 1u /* not HTTP (or TLS ciphertext): stop copying payloads */
#define INFRARED_CONN_TLS 2u  /* its bytes are TLS records: the plaintext comes from uprobes */
#define INFRARED_CONN_SEEN 4u /* its first payload was looked at */
#define INFRARED_CONN_LLM 8u  /* it carries LLM API calls: copied up to llm_capture_bytes a call */
/* With SKIP: the agent's table had no room for it. Its calls are not copied,
 * but those that begin an HTTP/1 request are counted
 * (INFRARED_SOCK_COUNT_UNTRACKED_REQUESTS). */
#define INFRARED_CONN_COUNT 16u

/* Which function a TLS entry probe was attached to: its attach cookie. One
 * entry program (and one multi-uprobe link per library) serves them all, so
 * that a library's probes are detached in one go. */
enum infrared_tls_function {
  INFRARED_TLS_SSL_WRITE = 1,
  INFRARED_TLS_SSL_READ = 2,
  INFRARED_TLS_SSL_WRITE_EX = 3,
  INFRARED_TLS_SSL_READ_EX = 4,
  INFRARED_TLS_SSL_CLOSE = 5, /* SSL_shutdown, SSL_free */
  INFRARED_TLS_GO_WRITE = 6,
  INFRARED_TLS_GO_READ = 7,
  INFRARED_TLS_GO_CLOSE = 8,
};

/* Per-call copy limits (map capture_limits), written by the agent after load. */
struct infrared_capture_limits {
  __u32 bytes_per_call;     /* capture.bytes_per_call */
  __u32 llm_bytes_per_call; /* genai.bytes_per_call, on connections carrying LLM calls */
};

/* A TLS stream as the kernel tracks it (map tls_streams). */
struct infrared_tls_stream_key {
  __u32 pid; /* tgid */
  __u32 reserved;
  __u64 stream; /* SSL* (OpenSSL) or *tls.Conn (Go) */
};

struct infrared_tls_stream {
  __u64 generation; /* bpf_ktime_get_ns() at first sight */
  __s32 fd;         /* the socket beneath, -1 until known */
  __u32 flags;      /* INFRARED_CONN_SKIP */
  struct infrared_stream_loss loss[2]; /* egress, ingress */
};

/* The agent's request to set flags on a connection (pid, fd) or a TLS stream
 * (tls_key), given to the syscall program set_flags through BPF_PROG_RUN: the
 * kernel ORs them into the entry in place, so the loss counts it adds to the
 * same entry meanwhile are kept (a whole-value map update from userspace would
 * lose them). */
struct infrared_flag_request {
  __u64 generation; /* the entry's, so a reused fd or stream is left alone */
  struct infrared_tls_stream_key tls_key;
  __u32 pid;
  __s32 fd;
  __u32 flags; /* INFRARED_CONN_* */
  __u32 tls;   /* 1: a TLS stream, found by tls_key */
  __s32 found; /* out: 1 when the entry was there and flagged */
  __u32 reserved;
};

enum infrared_sock_drop {
  INFRARED_SOCK_DROP_RINGBUF_FULL = 0,  /* an event did not fit the ring buffer */
  INFRARED_SOCK_DROP_CONN_MAP_FULL = 1, /* a connection could not be tracked */
  INFRARED_SOCK_DROP_IOV_CUT = 2,       /* iovecs beyond INFRARED_SOCK_MAX_IOV: bytes not copied */
  INFRARED_SOCK_DROP_CAPTURE_CAP =
      3, /* bytes beyond the per-call capture limit (counted in calls) */
  INFRARED_SOCK_DROP_IO_MAP_FULL = 4, /* a call not followed: no thread storage for its arguments */
  INFRARED_SOCK_DROP_SELECTED_MAP_FULL = 5, /* a selected process not recorded as such */
  INFRARED_SOCK_DROP_TLS_MAP_FULL = 6,      /* a TLS call or stream not followed */
  INFRARED_SOCK_DROP_COUNT = 7,
};

/* Counters userspace reads at scrape time, indexed by this enum. */
enum infrared_sock_counter {
  INFRARED_SOCK_COUNT_DATA_EVENTS = 0,      /* data events sent */
  INFRARED_SOCK_COUNT_SKIPPED_CALLS = 1,    /* calls on connections marked skip */
  INFRARED_SOCK_COUNT_UNSELECTED_CALLS = 2, /* TLS library calls of processes not selected */
  INFRARED_SOCK_COUNT_TLS_CALLS = 3,        /* calls on TLS connections: ciphertext, not copied */
  INFRARED_SOCK_COUNT_TLS_DATA_CALLS = 4,   /* TLS library calls whose plaintext was sent */
  /* TLS streams tied to the thread's last TLS socket call, not to a syscall
   * made inside the TLS call (node drives OpenSSL through memory BIOs) */
  INFRARED_SOCK_COUNT_TLS_FD_GUESSED = 5,
  /* calls (and TLS library calls) on connections and streams flagged
   * INFRARED_CONN_COUNT: the agent had no room for them */
  INFRARED_SOCK_COUNT_UNTRACKED_CALLS = 6,
  /* those of them whose first bytes began an HTTP/1 request */
  INFRARED_SOCK_COUNT_UNTRACKED_REQUESTS = 7,
  INFRARED_SOCK_COUNT_MAX = 8,
};

#endif /* INFRARED_ABI_SOCKDATA_H */
