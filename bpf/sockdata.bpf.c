// SPDX-License-Identifier: GPL-2.0
/* Socket payloads of TCP connections, from syscall tracepoints only (no
 * kprobes): what a process writes and reads, copied in the kernel up to a
 * per-call limit, with the true length, for userspace to parse. Connections
 * userspace has found not to be HTTP are skipped without copying. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "infrared/abi/sockdata.h"
#include "lib/sock.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define EINPROGRESS 115
/* Chunks one call may send: the per-call limit is at most this many chunks. */
#define MAX_CHUNKS_PER_CALL 8

/* Set by the agent between open and load. */
const volatile bool capture_all = true;        /* else only tgids in `selected` */
/* Syscall numbers of this architecture, from the agent's <sys/syscall.h>. One
 * raw tracepoint pair serves them all: detaching two dozen syscall tracepoints
 * would take the agent a second at exit, one RCU grace period each. */
const volatile long nr_read = -1, nr_write = -1, nr_readv = -1, nr_writev = -1;
const volatile long nr_sendto = -1, nr_recvfrom = -1, nr_sendmsg = -1, nr_recvmsg = -1;
const volatile long nr_sendfile = -1, nr_connect = -1, nr_accept = -1, nr_accept4 = -1;
const volatile long nr_close = -1;
const volatile __u32 self_tgid = 0;            /* the agent never captures itself */
const volatile __u32 capture_bytes = INFRARED_SOCK_CHUNK; /* per call */
/* Userspace is woken only once this much is waiting; it also polls on a
 * timer, so a quiet connection's bytes wait at most one poll interval. Waking
 * it for every record costs more than the copying does. */
const volatile __u64 wakeup_bytes = 256 << 10;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);
} sock_events SEC(".maps");

struct conn_key {
  __u32 pid;
  __s32 fd;
};

struct conn_info {
  __u64 generation;
  __u64 sk; /* the sock, to notice an fd that now names another socket */
  __u32 role;
  __u32 flags; /* INFRARED_CONN_SKIP, written by userspace */
};

/* LRU: fds closed without close() (process exit, exec's close-on-exec,
 * close_range, dup2) leave entries behind that age out instead of filling it. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct conn_key);
  __type(value, struct conn_info);
} conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32); /* tgid */
  __type(value, __u8);
} selected SEC(".maps");

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

/* LRU: a thread that dies inside a syscall never reaches its exit. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct io_args);
} active_io SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct infrared_sock_data_event);
} scratch SEC(".maps");

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

static __always_inline void bump(void *map, __u32 index) {
  __u64 *count = bpf_map_lookup_elem(map, &index);
  if (count)
    *count += 1;
}

/* Executables whose processes are captured when capture_all is off: the first
 * 15 bytes of the name, as the kernel sets comm at exec. Selection is decided
 * here, at exec and fork, so that a short-lived process is captured from its
 * first byte, before userspace could have heard of it. */
struct comm_key {
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, struct comm_key);
  __type(value, __u8);
} selected_comms SEC(".maps");

static __always_inline bool wanted(__u32 tgid) {
  if (tgid == self_tgid)
    return false;
  if (capture_all || bpf_map_lookup_elem(&selected, &tgid))
    return true;
  bump(&sock_counters, INFRARED_SOCK_COUNT_UNSELECTED_CALLS);
  return false;
}

static __always_inline __u64 wakeup_flag(void) {
  return bpf_ringbuf_query(&sock_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                             : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct infrared_sock_header *header, __u32 type,
                                        struct conn_key *key, __u64 generation) {
  header->type = type;
  header->tid = (__u32)bpf_get_current_pid_tgid();
  header->conn.pid = key->pid;
  header->conn.fd = key->fd;
  header->conn.generation = generation;
  header->timestamp_ns = bpf_ktime_get_ns();
}

static __always_inline void emit_open(struct conn_key *key, struct conn_info *info,
                                      struct sock *sk) {
  struct infrared_sock_open_event *event = bpf_ringbuf_reserve(&sock_events, sizeof(*event), 0);
  if (!event) {
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
    return;
  }
  fill_header(&event->header, INFRARED_SOCK_OPEN, key, info->generation);
  event->role = info->role;
  event->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  event->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  event->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  event->reserved = 0;
  event->reserved2 = 0;
  __builtin_memset(event->local_addr, 0, sizeof(event->local_addr));
  __builtin_memset(event->remote_addr, 0, sizeof(event->remote_addr));
  if (event->family == INFRARED_AF_INET) {
    __u32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(event->local_addr, &local, sizeof(local));
    __builtin_memcpy(event->remote_addr, &remote, sizeof(remote));
  } else {
    struct in6_addr local = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
    struct in6_addr remote = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
    __builtin_memcpy(event->local_addr, &local, sizeof(local));
    __builtin_memcpy(event->remote_addr, &remote, sizeof(remote));
  }
  bpf_ringbuf_submit(event, wakeup_flag());
}

/* The tracked connection on `fd`, made (and announced) when new, or when the
 * fd now names another socket than the one tracked. */
static __always_inline struct conn_info *conn_of(__u32 tgid, int fd, struct sock *sk, __u32 role,
                                                 bool fresh) {
  struct conn_key key = {.pid = tgid, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (info && !fresh && info->sk == (__u64)sk)
    return info;
  struct conn_info made = {.generation = bpf_ktime_get_ns(), .sk = (__u64)sk, .role = role};
  if (bpf_map_update_elem(&conns, &key, &made, BPF_ANY)) {
    bump(&sock_drops, INFRARED_SOCK_DROP_CONN_MAP_FULL);
    return 0;
  }
  emit_open(&key, &made, sk);
  return bpf_map_lookup_elem(&conns, &key);
}

/* --- enter: remember the arguments ------------------------------------------ */

static __always_inline void enter_io(long syscall, int fd, __u64 pointer, __u32 iovcnt,
                                     __u32 kind, __u32 direction) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  struct conn_key key = {.pid = tgid, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  /* The skip holds for the socket it was decided on, not for a later one the
   * fd may name. */
  if (info && (info->flags & INFRARED_CONN_SKIP) && info->sk == (__u64)tcp_sock_of_fd(fd)) {
    bump(&sock_counters, INFRARED_SOCK_COUNT_SKIPPED_CALLS);
    return;
  }
  if (!info && kind != IO_CONNECT && kind != IO_ACCEPT && !tcp_sock_of_fd(fd))
    return;
  if (!wanted(tgid))
    return;
  struct io_args args = {.pointer = pointer,
                         .syscall = syscall,
                         .fd = fd,
                         .iovcnt = iovcnt,
                         .kind = kind,
                         .direction = direction};
  if (bpf_map_update_elem(&active_io, &id, &args, BPF_ANY))
    bump(&sock_drops, INFRARED_SOCK_DROP_IO_MAP_FULL);
}

/* --- exit: copy what moved ------------------------------------------------------ */

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
  __u64 budget; /* bytes still allowed by capture_bytes */
};

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
  event->header.timestamp_ns = bpf_ktime_get_ns();
  if (bpf_ringbuf_output(&sock_events, event, offsetof(struct infrared_sock_data_event, data) + size,
                         wakeup_flag()))
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
  else
    bump(&sock_counters, INFRARED_SOCK_COUNT_DATA_EVENTS);
  state->segment_done += size;
  state->offset += size;
  state->budget -= size;
  return 0;
}

static __always_inline void exit_io(long syscall, long ret) {
  __u64 id = bpf_get_current_pid_tgid();
  struct io_args *active = bpf_map_lookup_elem(&active_io, &id);
  if (!active)
    return;
  struct io_args args = *active;
  bpf_map_delete_elem(&active_io, &id);
  if (syscall >= 0 && syscall != args.syscall)
    return; /* an enter seen without its exit (e.g. attached in between) */
  __u32 tgid = id >> 32;

  if (args.kind == IO_ACCEPT) {
    struct sock *sk = ret >= 0 ? tcp_sock_of_fd(ret) : 0;
    if (sk)
      conn_of(tgid, ret, sk, INFRARED_ROLE_ACCEPT, true);
    return;
  }
  if (args.kind == IO_CONNECT) {
    struct sock *sk = tcp_sock_of_fd(args.fd);
    if (sk && (ret == 0 || ret == -EINPROGRESS))
      conn_of(tgid, args.fd, sk, INFRARED_ROLE_CONNECT, true);
    return;
  }
  if (ret <= 0)
    return;
  struct sock *sk = tcp_sock_of_fd(args.fd);
  if (!sk)
    return;
  struct conn_info *info = conn_of(tgid, args.fd, sk, INFRARED_ROLE_UNKNOWN, false);
  if (!info || (info->flags & INFRARED_CONN_SKIP))
    return;

  __u32 zero = 0;
  struct infrared_sock_data_event *event = bpf_map_lookup_elem(&scratch, &zero);
  if (!event)
    return;
  struct conn_key key = {.pid = tgid, .fd = args.fd};
  fill_header(&event->header, INFRARED_SOCK_DATA, &key, info->generation);
  event->direction = args.direction;
  event->flags = 0;
  event->call_bytes = ret;
  event->offset = 0;
  event->captured = 0;
  event->reserved = 0;

  struct copy_state state = {.total = ret, .budget = capture_bytes};
  if (args.kind == IO_BUFFER) {
    state.segment = (const char *)args.pointer;
    state.segment_length = ret;
  } else if (args.kind == IO_IOVEC) {
    state.iov = (const struct iovec *)args.pointer;
    state.iovcnt = args.iovcnt;
  } else if (args.kind == IO_MSGHDR) {
    struct user_msghdr msg;
    if (!bpf_probe_read_user(&msg, sizeof(msg), (void *)args.pointer)) {
      state.iov = msg.msg_iov;
      state.iovcnt = msg.msg_iovlen;
    }
  }
  if (args.kind != IO_SENDFILE)
    bpf_loop(2 * INFRARED_SOCK_MAX_IOV + MAX_CHUNKS_PER_CALL, copy_step, &state, 0);

  event = bpf_map_lookup_elem(&scratch, &zero);
  if (!event)
    return;
  event->offset = state.offset;
  /* Whatever was not copied (sendfile, the limit, cut iovecs) is announced by
   * a last, empty event at the end of what was, so that userspace knows the
   * call's full length. */
  if (event->offset < (__u64)ret) {
    if (args.kind != IO_SENDFILE)
      bump(&sock_drops, INFRARED_SOCK_DROP_CAPTURE_CAP);
    event->captured = 0;
    event->flags = INFRARED_SOCK_LAST;
    event->header.timestamp_ns = bpf_ktime_get_ns();
    if (bpf_ringbuf_output(&sock_events, event, offsetof(struct infrared_sock_data_event, data),
                           wakeup_flag()))
      bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
  }
}

static __always_inline void on_close(int fd) {
  struct conn_key key = {.pid = bpf_get_current_pid_tgid() >> 32, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (!info)
    return;
  __u64 generation = info->generation;
  bpf_map_delete_elem(&conns, &key);
  struct infrared_sock_close_event *event = bpf_ringbuf_reserve(&sock_events, sizeof(*event), 0);
  if (!event) {
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
    return;
  }
  fill_header(&event->header, INFRARED_SOCK_CLOSE, &key, generation);
  bpf_ringbuf_submit(event, wakeup_flag());
}

SEC("raw_tp/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id) {
  if (id == nr_write || id == nr_sendto || id == nr_read || id == nr_recvfrom) {
    bool egress = id == nr_write || id == nr_sendto;
    enter_io(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs), 0, IO_BUFFER,
             egress ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_writev || id == nr_readv) {
    enter_io(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs),
             PT_REGS_PARM3_CORE_SYSCALL(regs), IO_IOVEC,
             id == nr_writev ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_sendmsg || id == nr_recvmsg) {
    enter_io(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs), 0, IO_MSGHDR,
             id == nr_sendmsg ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_sendfile) {
    enter_io(id, PT_REGS_PARM1_CORE_SYSCALL(regs), 0, 0, IO_SENDFILE, INFRARED_DIR_EGRESS);
  } else if (id == nr_connect) {
    enter_io(id, PT_REGS_PARM1_CORE_SYSCALL(regs), 0, 0, IO_CONNECT, 0);
  } else if (id == nr_accept || id == nr_accept4) {
    enter_io(id, -1, 0, 0, IO_ACCEPT, 0);
  } else if (id == nr_close) {
    on_close(PT_REGS_PARM1_CORE_SYSCALL(regs));
  }
  return 0;
}

/* The number of the syscall returning, where the architecture keeps it. */
static __always_inline long syscall_of(struct pt_regs *regs) {
#if defined(__TARGET_ARCH_x86)
  return BPF_CORE_READ(regs, orig_ax);
#else
  return -1; /* unknown: trust the thread's pending enter */
#endif
}

SEC("raw_tp/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret) {
  exit_io(syscall_of(regs), ret);
  return 0;
}

/* --- the selection follows processes ----------------------------------------- */

/* Matches the executable file's own name (a symlink resolved, as the agent's
 * process_executable_name shows it) or else the comm. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(select_on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  if (capture_all)
    return 0;
  __u32 tgid = BPF_CORE_READ(task, tgid);
  struct comm_key by_file = {};
  const unsigned char *name = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
  bpf_probe_read_kernel_str(by_file.comm, sizeof(by_file.comm), name);
  struct comm_key by_comm = {};
  BPF_CORE_READ_STR_INTO(&by_comm.comm, task, comm);
  if (bpf_map_lookup_elem(&selected_comms, &by_file) ||
      bpf_map_lookup_elem(&selected_comms, &by_comm)) {
    __u8 yes = 1;
    if (bpf_map_update_elem(&selected, &tgid, &yes, BPF_ANY))
      bump(&sock_drops, INFRARED_SOCK_DROP_SELECTED_MAP_FULL);
  } else {
    bpf_map_delete_elem(&selected, &tgid);
  }
  return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(select_on_fork, struct task_struct *parent, struct task_struct *child) {
  if (capture_all)
    return 0;
  __u32 parent_tgid = BPF_CORE_READ(parent, tgid);
  __u32 child_tgid = BPF_CORE_READ(child, tgid);
  if (parent_tgid == child_tgid || !bpf_map_lookup_elem(&selected, &parent_tgid))
    return 0; /* a thread, or a process not selected */
  __u8 yes = 1;
  if (bpf_map_update_elem(&selected, &child_tgid, &yes, BPF_ANY))
    bump(&sock_drops, INFRARED_SOCK_DROP_SELECTED_MAP_FULL);
  return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(select_on_exit, struct task_struct *task) {
  if (capture_all || BPF_CORE_READ(task, signal, live.counter) != 0)
    return 0;
  __u32 tgid = BPF_CORE_READ(task, tgid);
  bpf_map_delete_elem(&selected, &tgid);
  return 0;
}
