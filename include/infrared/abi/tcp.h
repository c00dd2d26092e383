/* TCP probes: the contract between bpf/tcp.bpf.c and the agent.
 * Plain C, fixed-width types, no implicit padding; the C++ side static_asserts
 * every size (agent/net/tcp_records.cc). */
#ifndef INFRARED_ABI_TCP_H
#define INFRARED_ABI_TCP_H

#ifdef __bpf__
/* vmlinux.h provides __u32 and friends. */
#else
#include <linux/types.h>
#endif

#define INFRARED_TCP_COMM_LEN 16

enum infrared_tcp_direction {
  INFRARED_TCP_OUTBOUND = 1, /* this host called connect() */
  INFRARED_TCP_INBOUND = 2,  /* a listener on this host accepted it */
};

/* How an outbound connect ended. */
enum infrared_tcp_outcome {
  INFRARED_TCP_ESTABLISHED = 0,
  INFRARED_TCP_REFUSED = 1, /* the peer answered the SYN with a reset (ECONNREFUSED) */
  INFRARED_TCP_TIMEOUT = 2, /* no answer: ETIMEDOUT */
  INFRARED_TCP_RESET = 3,   /* any other error (unreachable, reset), or closed by the
                             * application before the handshake finished */
};

/* One TCP socket as the kernel keeps it (map tcp_socks, keyed by the sock
 * address), and as a close record carries it. Addresses are in network byte
 * order; IPv4 uses the first 4 bytes. Ports are in host byte order. */
struct infrared_tcp_sock {
  __u64 sock_id;     /* the struct sock address: unique while the socket lives */
  __u64 open_ns;     /* bpf_ktime_get_ns() at SYN_SENT (outbound) or ESTABLISHED (inbound) */
  __u64 established_ns; /* 0 until established */
  __u64 bytes_sent;
  __u64 bytes_received;
  __u64 retransmits;
  __u64 resets_sent;
  __u64 resets_received;
  __u32 tgid;        /* the owning process; 0 while unknown */
  __u32 srtt_us;     /* smoothed RTT in microseconds, last read (0: no sample) */
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;
  __u16 remote_port;
  __u16 family;      /* AF_INET or AF_INET6 */
  __u8 direction;    /* enum infrared_tcp_direction */
  __u8 owner_known;  /* 1 once a process-context event named the owner */
};

enum infrared_tcp_record_type {
  INFRARED_TCP_CONNECT = 1, /* an outbound connect finished, either way */
  INFRARED_TCP_CLOSE = 2,   /* an established connection closed */
};

/* Every record on the tcp_events ring buffer. For CONNECT, sock is the socket
 * at the end of the handshake, outcome and duration_ns tell how it went. For
 * CLOSE, sock holds the final figures and duration_ns the connection's lifetime. */
struct infrared_tcp_record {
  __u32 type;     /* enum infrared_tcp_record_type */
  __u32 outcome;  /* enum infrared_tcp_outcome (CONNECT only) */
  __u64 timestamp_ns;
  __u64 duration_ns;
  struct infrared_tcp_sock sock;
};

/* Index of the kernel-side drop counters (map tcp_drops). */
enum infrared_tcp_drop {
  INFRARED_TCP_DROP_RINGBUF_FULL = 0,  /* bpf_ringbuf_reserve failed */
  INFRARED_TCP_DROP_SOCK_MAP_FULL = 1, /* no room for a new socket in tcp_socks */
  INFRARED_TCP_DROP_LISTEN_MAP_FULL = 2, /* no room for a listener in tcp_listeners */
  INFRARED_TCP_DROP_COUNT = 3,
};

#endif /* INFRARED_ABI_TCP_H */
