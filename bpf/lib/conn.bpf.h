/* What the socket probes keep per connection (conns) and per thread inside a
 * followed syscall (active_io), for bpf/sockdata.bpf.c and the TLS judgment
 * beside it. struct conn_info is mirrored by the agent (sock_probes.cc). */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "infrared/abi/sockdata.h"

struct conn_key {
  __u32 pid;
  __s32 fd;
};

struct conn_info {
  __u64 generation;
  __u64 sk;   /* the sock, to notice an fd that now names another socket */
  __u64 file; /* the open file it was last seen through: the same one names the same sock */
  __u32 role;
  /* INFRARED_CONN_*, in two words so that neither writer overwrites the
   * other: `flags` is the agent's (set_flags), `judged` the kernel's verdict
   * on the first payload (SEEN, with SKIP and TLS for TLS records). A
   * connection's flags are both together (conn_flags). */
  __u32 flags;
  __u32 judged;
  __u32 reserved;
  struct infrared_stream_loss loss[2]; /* egress, ingress */
};

static __always_inline __u32 conn_flags(const struct conn_info *info) {
  return info->flags | info->judged;
}

/* LRU: fds closed without close() (process exit, exec's close-on-exec,
 * close_range, dup2) leave entries behind that age out instead of filling it. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct conn_key);
  __type(value, struct conn_info);
} conns SEC(".maps");

enum io_kind {
  IO_BUFFER = 1,
  IO_IOVEC = 2,
  IO_MSGHDR = 3,
  IO_SENDFILE = 4,
  IO_CONNECT = 5,
  IO_ACCEPT = 6
};

/* A syscall between its enter and exit tracepoints. */
struct io_args {
  __u64 pointer; /* buffer, iovec array or msghdr */
  __s64 syscall; /* its number: the exit must be of the same call */
  __s32 fd;
  __u32 iovcnt;
  __u32 kind;
  __u32 direction;
};

/* Per thread (task storage: cheaper than a hash map keyed by thread, and
 * gone with the thread); `kind` 0 when the thread is in no followed call. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct io_args);
} active_io SEC(".maps");
