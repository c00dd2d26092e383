/* A connection judged by its first payload: TLS records (ciphertext, whose
 * plaintext the TLS library probes bring) or plaintext to copy. For
 * bpf/sockdata.bpf.c. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "infrared/abi/sockdata.h"
#include "lib/capture.bpf.h"
#include "lib/conn.bpf.h"

/* Tells the agent that a connection carries TLS records, so that it forgets
 * it: its bytes will not come, and its plaintext comes as a TLS stream. A
 * notice the ring buffer has no room for leaves the agent to forget the
 * connection at its close (it holds a place until then). */
static __always_inline void emit_tls_socket(__u32 tgid, int fd, __u64 generation) {
  struct infrared_sock_tls_socket_event event = {};
  fill_header(&event.header, INFRARED_SOCK_TLS_SOCKET, tgid, fd, generation);
  if (bpf_ringbuf_output(&sock_events, &event, sizeof(event), wakeup_flag(sizeof(event)))) {
    ring_full();
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
  }
}

/* A syscall on a TLS connection: the socket of the TLS call the thread is
 * inside, if any, and the thread's last TLS socket in any case. */
static __always_inline void note_tls_socket(int fd, struct sock *sk, __u32 role) {
  __u64 id = bpf_get_current_pid_tgid();
  /* Written in place when present: cheaper than replacing the element. */
  struct tls_socket *last = bpf_map_lookup_elem(&tls_last_socket, &id);
  if (last) {
    last->sk = (__u64)sk;
    last->fd = fd;
    last->role = role;
  } else {
    struct tls_socket made = {.sk = (__u64)sk, .fd = fd, .role = role};
    bpf_map_update_elem(&tls_last_socket, &id, &made, BPF_ANY);
  }
  /* An OpenSSL call is keyed by the thread; a Go call by its goroutine, which
   * tls_threads names. */
  struct tls_call_key thread_key = {.tgid = id >> 32, .tid = (__u32)id};
  struct tls_call *call = bpf_map_lookup_elem(&tls_calls, &thread_key);
  if (!call || !call->stream) {
    struct tls_call_key *key = bpf_map_lookup_elem(&tls_threads, &id);
    call = key ? bpf_map_lookup_elem(&tls_calls, key) : 0;
  }
  if (call && call->stream && call->fd < 0) {
    call->fd = fd;
    call->sk = (__u64)sk;
    call->role = role;
  }
}

/* The first `size` bytes of what a call moved, wherever its kind keeps them
 * (`size` a constant, for the verifier). */
static __always_inline bool first_bytes(const struct io_args *args, __u8 *out, __u32 size) {
  const void *start = (const void *)args->pointer;
  if (args->kind == IO_IOVEC || args->kind == IO_MSGHDR) {
    const struct iovec *iov = start;
    if (args->kind == IO_MSGHDR) {
      struct user_msghdr msg;
      if (bpf_probe_read_user(&msg, sizeof(msg), start))
        return false;
      iov = msg.msg_iov;
    }
    struct iovec entry;
    if (bpf_probe_read_user(&entry, sizeof(entry), iov) || entry.iov_len < size)
      return false;
    start = entry.iov_base;
  } else if (args->kind != IO_BUFFER) {
    return false;
  }
  return bpf_probe_read_user(out, size, start) == 0;
}

enum tls_verdict { TLS_NO, TLS_YES, TLS_NOT_YET };

/* Whether a connection's first payload is a TLS record header: content type
 * 20-23 (change_cipher_spec, alert, handshake, application_data), then
 * version 3.x. Such a connection carries ciphertext: not worth a copy, and its
 * plaintext comes from the TLS library probes. A call of fewer than three
 * bytes starting like one cannot tell (nginx peeks at one byte of a TLS
 * port's first record) and is passed over. */
static __always_inline enum tls_verdict tls_verdict(const struct io_args *args, long ret) {
  __u8 head[3] = {};
  if (!first_bytes(args, head, sizeof(head)))
    return TLS_NO;
  bool record_type = head[0] >= 20 && head[0] <= 23;
  if (ret < 3)
    return record_type ? TLS_NOT_YET : TLS_NO;
  return record_type && head[1] == 3 && head[2] <= 4 ? TLS_YES : TLS_NO;
}

/* Judges a connection by its first payload: true when it is TLS, or may be
 * (the call is then passed over, counted as a TLS call); otherwise the
 * connection is marked seen and the call goes on as plaintext. */
static __always_inline bool first_payload_is_tls(struct conn_info *info,
                                                 const struct io_args *args, long ret,
                                                 __u32 tgid) {
  switch (tls_verdict(args, ret)) {
    case TLS_YES:
      info->judged |= INFRARED_CONN_SEEN | INFRARED_CONN_SKIP | INFRARED_CONN_TLS;
      note_tls_socket(args->fd, (struct sock *)info->sk, info->role);
      bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_CALLS);
      emit_tls_socket(tgid, args->fd, info->generation);
      return true;
    case TLS_NOT_YET:
      bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_CALLS);
      return true;
    default:
      info->judged |= INFRARED_CONN_SEEN;
      return false;
  }
}
