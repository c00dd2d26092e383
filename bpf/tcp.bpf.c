// SPDX-License-Identifier: GPL-2.0
/* TCP connections per process and peer, from raw tracepoints only (no kprobes,
 * no fentry): connect latency and outcome, bytes, retransmits, resets, RTT and
 * lifetime. Each socket's figures are aggregated in tcp_socks, keyed by the
 * sock's address, and read by the agent at scrape time; the end of a connect
 * and the end of a connection travel as records on the tcp_events ring buffer.
 *
 * Attribution. An outbound connection belongs to the task that moves it to
 * SYN_SENT, which happens inside connect(). An accepted connection becomes
 * ESTABLISHED in softirq, where `current` is whoever was interrupted: it is
 * given first to the process that put its port into LISTEN (that happens in
 * listen(), in process context), then to the first process that sends or
 * receives on it or closes it (sock_send_length, sock_recv_length and the
 * FIN_WAIT1 / LAST_ACK transitions run in that process's context), so a
 * listener inherited by worker processes is attributed to the worker. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "infrared/abi/tcp.h"
#include "lib/sock.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define INFRARED_RCV_SHUTDOWN 1 /* sk_shutdown: the peer's FIN arrived */

/* include/net/tcp_states.h: enum values, not in BTF as named constants we can
 * rely on across kernels. */
#define TCP_ST_ESTABLISHED 1
#define TCP_ST_SYN_SENT 2
#define TCP_ST_SYN_RECV 3
#define TCP_ST_FIN_WAIT1 4
#define TCP_ST_CLOSE 7
#define TCP_ST_LAST_ACK 9
#define TCP_ST_LISTEN 10

#define ERR_ECONNREFUSED 111
#define ERR_ETIMEDOUT 110
#define MSG_PEEK_FLAG 2

/* Sizes are defaults; the agent may set them before load. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} tcp_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock address */
  __type(value, struct infrared_tcp_sock);
} tcp_socks SEC(".maps");

struct listener_key {
  __u32 netns; /* network namespace inode: ports repeat across namespaces */
  __u16 port;
  __u16 family;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct listener_key);
  __type(value, __u32); /* tgid that called listen() */
} tcp_listeners SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, INFRARED_TCP_DROP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} tcp_drops SEC(".maps");

static __always_inline void count_drop(__u32 reason) {
  __u64 *count = bpf_map_lookup_elem(&tcp_drops, &reason);
  if (count)
    *count += 1;
}

static __always_inline bool is_tcp(const struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  return BPF_CORE_READ(sk, sk_protocol) == INFRARED_IPPROTO_TCP &&
         (family == INFRARED_AF_INET || family == INFRARED_AF_INET6);
}

static __always_inline __u32 current_tgid(void) { return bpf_get_current_pid_tgid() >> 32; }

static __always_inline struct listener_key listener_of(const struct sock *sk) {
  struct listener_key key = {};
  key.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  key.port = BPF_CORE_READ(sk, __sk_common.skc_num);
  key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  return key;
}

/* Addresses and ports; the local port of an outbound socket is only bound
 * after SYN_SENT (inet_hash_connect), so this runs again later. */
static __always_inline void read_endpoints(const struct sock *sk, struct infrared_tcp_sock *s) {
  s->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  s->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  s->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (s->family == INFRARED_AF_INET) {
    __u32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(s->local_addr, &local, 4);
    __builtin_memcpy(s->remote_addr, &remote, 4);
  } else {
    BPF_CORE_READ_INTO(&s->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&s->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
}

/* tcp_sock.srtt_us holds 8 times the smoothed RTT (RFC 6298, as kept by
 * tcp_rtt_estimator). */
static __always_inline void read_rtt(const struct sock *sk, struct infrared_tcp_sock *s) {
  __u32 srtt8 = BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us);
  if (srtt8)
    s->srtt_us = srtt8 >> 3;
}

static __always_inline struct infrared_tcp_sock *track(const struct sock *sk, __u8 direction,
                                                        __u32 tgid, __u8 owner_known) {
  __u64 id = (__u64)sk;
  struct infrared_tcp_sock fresh = {};
  fresh.sock_id = id;
  fresh.open_ns = bpf_ktime_get_ns();
  fresh.tgid = tgid;
  fresh.direction = direction;
  fresh.owner_known = owner_known;
  read_endpoints(sk, &fresh);
  if (bpf_map_update_elem(&tcp_socks, &id, &fresh, BPF_ANY)) {
    count_drop(INFRARED_TCP_DROP_SOCK_MAP_FULL);
    return 0;
  }
  return bpf_map_lookup_elem(&tcp_socks, &id);
}

static __always_inline void emit(__u32 type, __u32 outcome, __u64 duration_ns,
                                 const struct infrared_tcp_sock *s) {
  struct infrared_tcp_record *record = bpf_ringbuf_reserve(&tcp_events, sizeof(*record), 0);
  if (!record) {
    count_drop(INFRARED_TCP_DROP_RINGBUF_FULL);
    return;
  }
  record->type = type;
  record->outcome = outcome;
  record->timestamp_ns = bpf_ktime_get_ns();
  record->duration_ns = duration_ns;
  __builtin_memcpy(&record->sock, s, sizeof(record->sock));
  bpf_ringbuf_submit(record, 0);
}

static __always_inline __u32 failed_connect_outcome(const struct sock *sk) {
  int err = BPF_CORE_READ(sk, sk_err);
  if (err == ERR_ECONNREFUSED)
    return INFRARED_TCP_REFUSED;
  if (err == ERR_ETIMEDOUT)
    return INFRARED_TCP_TIMEOUT;
  return INFRARED_TCP_RESET;
}

/* The process that runs this (in process context) owns the socket from now on,
 * unless an earlier such event already named the owner. */
static __always_inline void claim(struct infrared_tcp_sock *s) {
  if (s->owner_known)
    return;
  __u32 tgid = current_tgid();
  if (tgid == 0)
    return;
  s->tgid = tgid;
  s->owner_known = 1;
}

static __always_inline void on_listen_change(const struct sock *sk, int oldstate, int newstate) {
  struct listener_key key = listener_of(sk);
  if (newstate == TCP_ST_LISTEN) {
    __u32 tgid = current_tgid();
    if (bpf_map_update_elem(&tcp_listeners, &key, &tgid, BPF_ANY))
      count_drop(INFRARED_TCP_DROP_LISTEN_MAP_FULL);
  } else if (oldstate == TCP_ST_LISTEN && newstate == TCP_ST_CLOSE) {
    bpf_map_delete_elem(&tcp_listeners, &key);
  }
}

static __always_inline void on_accepted(const struct sock *sk) {
  struct listener_key key = listener_of(sk);
  __u32 *owner = bpf_map_lookup_elem(&tcp_listeners, &key);
  struct infrared_tcp_sock *s = track(sk, INFRARED_TCP_INBOUND, owner ? *owner : 0, 0);
  if (!s)
    return;
  s->established_ns = s->open_ns;
  read_rtt(sk, s);
}

static __always_inline void on_connect_done(const struct sock *sk, int newstate) {
  __u64 id = (__u64)sk;
  struct infrared_tcp_sock *s = bpf_map_lookup_elem(&tcp_socks, &id);
  if (!s)
    return;
  __u64 now = bpf_ktime_get_ns();
  read_endpoints(sk, s);
  read_rtt(sk, s);
  if (newstate == TCP_ST_ESTABLISHED) {
    s->established_ns = now;
    emit(INFRARED_TCP_CONNECT, INFRARED_TCP_ESTABLISHED, now - s->open_ns, s);
  } else {
    emit(INFRARED_TCP_CONNECT, failed_connect_outcome(sk), now - s->open_ns, s);
    bpf_map_delete_elem(&tcp_socks, &id);
  }
}

static __always_inline void on_closed(const struct sock *sk) {
  __u64 id = (__u64)sk;
  struct infrared_tcp_sock *s = bpf_map_lookup_elem(&tcp_socks, &id);
  if (!s)
    return;
  read_rtt(sk, s);
  /* A socket can reach CLOSE (a half-closed client getting the server's FIN)
   * with data still queued, read after its entry is gone, or while a read
   * that already took its bytes has not yet reported them: the final figure
   * is what the kernel received in sequence (tcp_sock.bytes_received), less
   * the sequence number the peer's FIN took. */
  const struct tcp_sock *tp = (const struct tcp_sock *)sk;
  __u64 received = BPF_CORE_READ(tp, bytes_received);
  if (received > 0 && (BPF_CORE_READ(sk, sk_shutdown) & INFRARED_RCV_SHUTDOWN))
    received -= 1;
  if (received > s->bytes_received)
    s->bytes_received = received;
  __u64 now = bpf_ktime_get_ns();
  __u64 since = s->established_ns ? s->established_ns : s->open_ns;
  emit(INFRARED_TCP_CLOSE, 0, now - since, s);
  bpf_map_delete_elem(&tcp_socks, &id);
}

static __always_inline void on_state(const struct sock *sk, int oldstate, int newstate) {
  if (!is_tcp(sk))
    return;
  if (newstate == TCP_ST_LISTEN || oldstate == TCP_ST_LISTEN) {
    if (newstate == TCP_ST_LISTEN || newstate == TCP_ST_CLOSE)
      on_listen_change(sk, oldstate, newstate);
    return; /* LISTEN -> SYN_RECV is a child being cloned: tracked once established */
  }
  if (newstate == TCP_ST_SYN_SENT) {
    track(sk, INFRARED_TCP_OUTBOUND, current_tgid(), 1);
  } else if (oldstate == TCP_ST_SYN_SENT) {
    on_connect_done(sk, newstate);
  } else if (oldstate == TCP_ST_SYN_RECV && newstate == TCP_ST_ESTABLISHED) {
    on_accepted(sk);
  } else if (newstate == TCP_ST_CLOSE) {
    on_closed(sk);
  } else if (newstate == TCP_ST_FIN_WAIT1 || newstate == TCP_ST_LAST_ACK) {
    /* close() or shutdown() by the owner, in its context */
    __u64 id = (__u64)sk;
    struct infrared_tcp_sock *s = bpf_map_lookup_elem(&tcp_socks, &id);
    if (s)
      claim(s);
  }
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate) {
  on_state(sk, oldstate, newstate);
  return 0;
}

/* The socket's entry when it is a tracked TCP socket, else NULL. */
static __always_inline struct infrared_tcp_sock *tracked(const struct sock *sk) {
  __u64 id = (__u64)sk;
  return sk ? bpf_map_lookup_elem(&tcp_socks, &id) : 0;
}

static __always_inline void on_length(const struct sock *sk, int ret, int flags, bool sent) {
  if (ret <= 0 || (!sent && (flags & MSG_PEEK_FLAG)))
    return;
  struct infrared_tcp_sock *s = tracked(sk);
  if (!s)
    return; /* not a tracked TCP socket */
  claim(s); /* srtt is read at the close, not on every send and receive */
  if (sent)
    __sync_fetch_and_add(&s->bytes_sent, ret);
  else
    __sync_fetch_and_add(&s->bytes_received, ret);
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(handle_sock_send_length, struct sock *sk, int ret, int flags) {
  on_length(sk, ret, flags, true);
  return 0;
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(handle_sock_recv_length, struct sock *sk, int ret, int flags) {
  on_length(sk, ret, flags, false);
  return 0;
}

/* The third argument is the retransmission's error: only those sent count. */
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(handle_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb,
             int err) {
  struct infrared_tcp_sock *s = err == 0 ? tracked(sk) : 0;
  if (s)
    __sync_fetch_and_add(&s->retransmits, 1);
  return 0;
}

/* sk is NULL for a reset answering a segment no socket wants. */
SEC("raw_tp/tcp_send_reset")
int BPF_PROG(handle_tcp_send_reset, const struct sock *sk) {
  struct infrared_tcp_sock *s = tracked(sk);
  if (s)
    __sync_fetch_and_add(&s->resets_sent, 1);
  return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(handle_tcp_receive_reset, struct sock *sk) {
  struct infrared_tcp_sock *s = tracked(sk);
  if (s)
    __sync_fetch_and_add(&s->resets_received, 1);
  return 0;
}
