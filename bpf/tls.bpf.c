// SPDX-License-Identifier: GPL-2.0
/* TLS plaintext, from uprobes on the TLS library where a program hands it its
 * bytes: OpenSSL's SSL_write / SSL_read (and their _ex forms) in libssl or in
 * an executable that carries OpenSSL (node), and Go's crypto/tls
 * (*Conn).Write / Read. Each call's plaintext goes to the socket probes' ring
 * buffer as data of a TLS stream keyed by (pid, SSL* or *tls.Conn); the socket
 * beneath is found by the syscall the library makes inside the call (marked
 * here, seen by sockdata.bpf.c), else by the thread's last TLS socket call.
 * The agent attaches these programs once per library file, for every process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "infrared/abi/sockdata.h"
#include "lib/capture.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* --- streams ----------------------------------------------------------------------- */

/* The stream of `pointer`, made when new; tied to its socket (and announced
 * with the socket's endpoints) as soon as the socket is known: from a syscall
 * inside `call`, or, when `may_guess`, the thread's last TLS socket. */
static __always_inline struct infrared_tls_stream *stream_of(__u32 tgid, __u64 pointer,
                                                             const struct tls_call *call,
                                                             bool may_guess) {
  struct infrared_tls_stream_key key = {.pid = tgid, .stream = pointer};
  struct infrared_tls_stream *stream = bpf_map_lookup_elem(&tls_streams, &key);
  if (!stream) {
    struct infrared_tls_stream made = {.generation = bpf_ktime_get_ns(), .fd = -1};
    if (bpf_map_update_elem(&tls_streams, &key, &made, BPF_ANY)) {
      bump(&sock_drops, INFRARED_SOCK_DROP_TLS_MAP_FULL);
      return 0;
    }
    stream = bpf_map_lookup_elem(&tls_streams, &key);
    if (!stream)
      return 0;
    /* Without it, the agent finds the stream by walking tls_streams. */
    struct tls_stream_id id = {.pid = tgid, .generation = made.generation};
    bpf_map_update_elem(&tls_stream_keys, &id, &key, BPF_ANY);
  }
  if (stream->fd >= 0)
    return stream;
  struct tls_socket socket = {.sk = call->sk, .fd = call->fd, .role = call->role};
  if (socket.fd < 0) {
    if (!may_guess)
      return stream;
    __u64 id = bpf_get_current_pid_tgid();
    struct tls_socket *last = bpf_map_lookup_elem(&tls_last_socket, &id);
    if (!last)
      return stream;
    socket = *last;
    bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_FD_GUESSED);
  }
  stream->fd = socket.fd;
  emit_open(tgid, INFRARED_TLS_FD, stream->generation, socket.role, (struct sock *)socket.sk,
            socket.fd);
  return stream;
}

static __always_inline void close_stream(__u64 pointer) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct infrared_tls_stream_key key = {.pid = tgid, .stream = pointer};
  struct infrared_tls_stream *stream = bpf_map_lookup_elem(&tls_streams, &key);
  if (!stream)
    return;
  __u64 generation = stream->generation;
  struct infrared_stream_loss loss[2] = {stream->loss[0], stream->loss[1]};
  bpf_map_delete_elem(&tls_streams, &key);
  struct tls_stream_id id = {.pid = tgid, .generation = generation};
  bpf_map_delete_elem(&tls_stream_keys, &id);
  emit_close(tgid, INFRARED_TLS_FD, generation, loss);
}

/* --- calls ------------------------------------------------------------------------- */

/* Records a call at its entry; NULL when it is not followed. */
static __always_inline struct tls_call *enter_call(struct tls_call_key *key, __u64 pointer,
                                                   __u64 buffer, __u64 length_ptr,
                                                   __u32 direction) {
  if (!wanted(key->tgid))
    return 0;
  struct infrared_tls_stream_key stream_key = {.pid = key->tgid, .stream = pointer};
  struct infrared_tls_stream *stream = bpf_map_lookup_elem(&tls_streams, &stream_key);
  /* A stream the agent has no room for (COUNT) is followed, for its
   * requests to be counted at the return. */
  if (stream && (stream->flags & (INFRARED_CONN_SKIP | INFRARED_CONN_COUNT)) == INFRARED_CONN_SKIP) {
    bump(&sock_counters, INFRARED_SOCK_COUNT_SKIPPED_CALLS);
    return 0;
  }
  /* A thread's (or goroutine's) entry is reused call after call: written in
   * place, cheaper than replacing the element. */
  struct tls_call *call = bpf_map_lookup_elem(&tls_calls, key);
  if (call) {
    call->stream = pointer;
    call->buffer = buffer;
    call->length_ptr = length_ptr;
    call->direction = direction;
    call->fd = -1;
    call->sent = 0;
  } else {
    struct tls_call made = {.stream = pointer,
                            .buffer = buffer,
                            .length_ptr = length_ptr,
                            .direction = direction,
                            .fd = -1};
    if (bpf_map_update_elem(&tls_calls, key, &made, BPF_ANY)) {
      bump(&sock_drops, INFRARED_SOCK_DROP_TLS_MAP_FULL);
      return 0;
    }
    call = bpf_map_lookup_elem(&tls_calls, key);
  }
  if (key->goroutine) {
    __u64 id = bpf_get_current_pid_tgid();
    if (bpf_map_update_elem(&tls_threads, &id, key, BPF_ANY))
      bump(&sock_drops, INFRARED_SOCK_DROP_TLS_MAP_FULL);
  }
  return call;
}

static __always_inline void send_plaintext(__u32 tgid, struct infrared_tls_stream *stream,
                                           __u64 buffer, __u64 bytes, __u32 direction) {
  bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_DATA_CALLS);
  struct copy_state state = {.segment = (const char *)buffer,
                             .segment_length = bytes,
                             .total = bytes,
                             .budget = capture_budget(stream->flags)};
  struct infrared_stream_loss *loss = &stream->loss[direction == INFRARED_DIR_EGRESS ? 0 : 1];
  send_call(&state, tgid, INFRARED_TLS_FD, stream->generation, direction, true, loss);
}

/* `ret` is the library's return value: bytes moved, or for the _ex forms 1
 * with the count behind length_ptr. */
static __always_inline void return_call(struct tls_call_key *key, long ret) {
  if (key->goroutine) {
    __u64 id = bpf_get_current_pid_tgid();
    bpf_map_delete_elem(&tls_threads, &id);
  }
  struct tls_call *found = bpf_map_lookup_elem(&tls_calls, key);
  if (!found || !found->stream)
    return;
  struct tls_call call = *found;
  found->stream = 0; /* returned; the entry stays for the next call */
  if (call.sent) { /* its bytes went at the entry: the socket may be known now */
    stream_of(key->tgid, call.stream, &call, true);
    return;
  }
  __u64 bytes = ret > 0 ? ret : 0;
  if (call.length_ptr) {
    bytes = 0;
    if (ret == 1 && bpf_probe_read_user(&bytes, sizeof(bytes), (void *)call.length_ptr))
      bytes = 0;
  }
  if (bytes == 0)
    return;
  struct infrared_tls_stream *stream = stream_of(key->tgid, call.stream, &call, true);
  if (!stream)
    return;
  /* No room for it in the agent: counted, not copied. */
  if (stream->flags & INFRARED_CONN_COUNT) {
    count_unparsed_buffer((const void *)call.buffer, bytes);
    return;
  }
  /* A read that blocked across the decision entered before the flag was set. */
  if (stream->flags & INFRARED_CONN_SKIP) {
    bump(&sock_counters, INFRARED_SOCK_COUNT_SKIPPED_CALLS);
    return;
  }
  send_plaintext(key->tgid, stream, call.buffer, bytes, call.direction);
}

static __always_inline struct tls_call_key thread_key(void) {
  __u64 id = bpf_get_current_pid_tgid();
  struct tls_call_key key = {.tgid = id >> 32, .tid = (__u32)id};
  return key;
}

/* --- OpenSSL ----------------------------------------------------------------------- */

SEC("uprobe")
int ssl_enter(struct pt_regs *ctx) {
  __u64 function = bpf_get_attach_cookie(ctx);
  __u64 ssl = PT_REGS_PARM1(ctx);
  if (function == INFRARED_TLS_SSL_CLOSE) {
    close_stream(ssl);
    return 0;
  }
  struct tls_call_key key = thread_key();
  __u64 buffer = PT_REGS_PARM2(ctx);
  /* SSL_read_ex and SSL_write_ex: the count goes behind a size_t*. */
  __u64 length_ptr =
      function == INFRARED_TLS_SSL_WRITE_EX || function == INFRARED_TLS_SSL_READ_EX ? PT_REGS_PARM4(ctx) : 0;
  __u32 direction = function == INFRARED_TLS_SSL_WRITE || function == INFRARED_TLS_SSL_WRITE_EX
                        ? INFRARED_DIR_EGRESS
                        : INFRARED_DIR_INGRESS;
  enter_call(&key, ssl, buffer, length_ptr, direction);
  return 0;
}

/* The return of the four data functions. */
SEC("uretprobe")
int ssl_return(struct pt_regs *ctx) {
  struct tls_call_key key = thread_key();
  return_call(&key, (int)PT_REGS_RC(ctx));
  return 0;
}

/* --- Go crypto/tls ------------------------------------------------------------------ */

/* Go >= 1.17 passes arguments in registers (amd64: AX, BX, CX, DI, ...) and
 * keeps the current goroutine in R14. uretprobes rewrite the return address on
 * the stack, which Go's moving stacks do not survive: the agent attaches
 * go_return at each RET instruction of the function instead. */
#if defined(__TARGET_ARCH_x86)
#define GO_G(ctx) ((ctx)->r14)
#define GO_ARG1(ctx) ((ctx)->ax)
#define GO_ARG2(ctx) ((ctx)->bx)
#define GO_ARG3(ctx) ((ctx)->cx)
#else
/* Other architectures: the programs exist (the skeleton is the same) but the
 * agent resolves Go targets on x86-64 only, so they are never attached. */
#define GO_G(ctx) 0
#define GO_ARG1(ctx) 0
#define GO_ARG2(ctx) 0
#define GO_ARG3(ctx) 0
#endif

static __always_inline struct tls_call_key goroutine_key(struct pt_regs *ctx) {
  struct tls_call_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .goroutine = GO_G(ctx)};
  return key;
}

/* (*Conn).Write(b []byte) and Read(b []byte): c in AX, b's pointer in BX;
 * (*Conn).Close(): c in AX. */
SEC("uprobe")
int go_enter(struct pt_regs *ctx) {
  __u64 function = bpf_get_attach_cookie(ctx);
  if (function == INFRARED_TLS_GO_CLOSE) {
    close_stream(GO_ARG1(ctx));
    return 0;
  }
  struct tls_call_key key = goroutine_key(ctx);
  bool write = function == INFRARED_TLS_GO_WRITE;
  struct tls_call *call = enter_call(&key, GO_ARG1(ctx), GO_ARG2(ctx), 0,
                                     write ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  /* A write's bytes go now, all len(b) of them: the response, read by another
   * goroutine on another CPU, may otherwise overtake the request in the ring
   * buffer, since the RET probe runs only after the socket write. */
  if (!call || !write || GO_ARG3(ctx) == 0)
    return 0;
  struct infrared_tls_stream *stream = stream_of(key.tgid, GO_ARG1(ctx), call, false);
  if (!stream)
    return 0;
  call->sent = 1;
  if (stream->flags & INFRARED_CONN_COUNT) { /* see enter_call */
    count_unparsed_buffer((const void *)GO_ARG2(ctx), GO_ARG3(ctx));
    return 0;
  }
  send_plaintext(key.tgid, stream, GO_ARG2(ctx), GO_ARG3(ctx), INFRARED_DIR_EGRESS);
  return 0;
}

/* At a RET of Write or Read: n in AX. */
SEC("uprobe")
int go_return(struct pt_regs *ctx) {
  struct tls_call_key key = goroutine_key(ctx);
  return_call(&key, (long)GO_ARG1(ctx));
  return 0;
}
