// SPDX-License-Identifier: GPL-2.0
/* Socket payloads of TCP connections, from syscall tracepoints only (no
 * kprobes): what a process writes and reads, copied in the kernel up to a
 * per-call limit, with the true length, for userspace to parse. Connections
 * userspace has found not to be HTTP are skipped without copying. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "infrared/abi/sockdata.h"
#include "lib/capture.bpf.h"
#include "lib/conn.bpf.h"
#include "lib/tls_judge.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define EINPROGRESS 115
#define PROT_EXEC 4

/* Syscall numbers of this architecture, from the agent's <sys/syscall.h>. One
 * raw tracepoint pair serves them all: detaching two dozen syscall tracepoints
 * would take the agent a second at exit, one RCU grace period each. */
const volatile long nr_read = -1, nr_write = -1, nr_readv = -1, nr_writev = -1;
const volatile long nr_sendto = -1, nr_recvfrom = -1, nr_sendmsg = -1, nr_recvmsg = -1;
const volatile long nr_sendfile = -1, nr_connect = -1, nr_accept = -1, nr_accept4 = -1;
const volatile long nr_close = -1, nr_mmap = -1;

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

/* The tracked connection on `fd` (open as `file`), made (and announced) when
 * new, or when the fd now names another socket than the one tracked; NULL when
 * it names no TCP socket. The file is compared first: the same file is the
 * same socket, found without walking from the file to the sock. */
static __always_inline struct conn_info *conn_of(__u32 tgid, int fd, struct file *file,
                                                 __u32 role, bool fresh) {
  struct conn_key key = {.pid = tgid, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (info && !fresh && file && info->file == (__u64)file)
    return info;
  struct sock *sk = tcp_sock_of_file(file);
  if (!sk)
    return 0;
  if (info && !fresh && info->sk == (__u64)sk) {
    info->file = (__u64)file; /* the same socket through another file (SCM_RIGHTS, say) */
    return info;
  }
  struct conn_info made = {
      .generation = bpf_ktime_get_ns(), .sk = (__u64)sk, .file = (__u64)file, .role = role};
  if (bpf_map_update_elem(&conns, &key, &made, BPF_ANY)) {
    bump(&sock_drops, INFRARED_SOCK_DROP_CONN_MAP_FULL);
    return 0;
  }
  emit_open(tgid, fd, made.generation, role, sk, fd);
  return bpf_map_lookup_elem(&conns, &key);
}

/* A process mapping a file named libssl.so* executable: the agent looks for
 * the library in the process's maps and attaches to it if it is new. */
static __always_inline void on_mmap(unsigned long prot, int fd) {
  if (!(prot & PROT_EXEC) || fd < 0)
    return;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct file *file = file_of_fd(fd);
  if (!file)
    return;
  char name[9];
  const unsigned char *dname = BPF_CORE_READ(file, f_path.dentry, d_name.name);
  if (bpf_probe_read_kernel(name, sizeof(name), dname))
    return;
  if (name[0] != 'l' || name[1] != 'i' || name[2] != 'b' || name[3] != 's' || name[4] != 's' ||
      name[5] != 'l' || name[6] != '.' || name[7] != 's' || name[8] != 'o')
    return;
  if (!is_selected(tgid))
    return;
  struct infrared_sock_library_event *event = bpf_ringbuf_reserve(&sock_events, sizeof(*event), 0);
  if (!event) {
    ring_full();
    bump(&sock_drops, INFRARED_SOCK_DROP_RINGBUF_FULL);
    return;
  }
  fill_header(&event->header, INFRARED_SOCK_LIBRARY, tgid, fd, 0);
  bpf_ringbuf_submit(event, BPF_RB_FORCE_WAKEUP); /* attach before the library is used */
}

/* --- enter: remember the arguments ------------------------------------------ */

static __always_inline void enter_io(long syscall, int fd, __u64 pointer, __u32 iovcnt,
                                     __u32 kind, __u32 direction) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  /* First: a process not selected costs one lookup a call, and its calls are
   * not counted (they may not be on sockets; its TLS calls are not captured
   * either, so its TLS sockets need no noting). */
  if (!is_selected(tgid))
    return;
  struct conn_key key = {.pid = tgid, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  /* The skip holds for the socket it was decided on, not for a later one the
   * fd may name. */
  __u32 flags = info ? conn_flags(info) : 0;
  if (info && (flags & INFRARED_CONN_SKIP)) {
    if (info->file == (__u64)file_of_fd(fd)) {
      if (flags & INFRARED_CONN_TLS) {
        note_tls_socket(fd, (struct sock *)info->sk, info->role);
        bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_CALLS);
        return;
      }
      /* One the agent has no room for: the exit counts the requests its
       * calls begin. */
      if (!(flags & INFRARED_CONN_COUNT)) {
        bump(&sock_counters, INFRARED_SOCK_COUNT_SKIPPED_CALLS);
        return;
      }
      if (kind == IO_SENDFILE) {
        bump(&sock_counters, INFRARED_SOCK_COUNT_UNTRACKED_CALLS);
        return;
      }
    }
  }
  if (!info && kind != IO_CONNECT && kind != IO_ACCEPT && !tcp_sock_of_fd(fd))
    return;
  struct io_args *args = bpf_task_storage_get(&active_io, bpf_get_current_task_btf(), 0,
                                              BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!args) {
    bump(&sock_drops, INFRARED_SOCK_DROP_IO_MAP_FULL);
    return;
  }
  args->pointer = pointer;
  args->syscall = syscall;
  args->fd = fd;
  args->iovcnt = iovcnt;
  args->kind = kind;
  args->direction = direction;
}

/* --- exit: copy what moved ------------------------------------------------------ */

static __always_inline void exit_io(long syscall, long ret) {
  struct io_args *active = bpf_task_storage_get(&active_io, bpf_get_current_task_btf(), 0, 0);
  if (!active || !active->kind)
    return;
  struct io_args args = *active;
  active->kind = 0;
  if (syscall >= 0 && syscall != args.syscall)
    return; /* an enter seen without its exit (e.g. attached in between) */
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;

  if (args.kind == IO_ACCEPT) {
    if (ret >= 0)
      conn_of(tgid, ret, file_of_fd(ret), INFRARED_ROLE_ACCEPT, true);
    return;
  }
  if (args.kind == IO_CONNECT) {
    if (ret == 0 || ret == -EINPROGRESS)
      conn_of(tgid, args.fd, file_of_fd(args.fd), INFRARED_ROLE_CONNECT, true);
    return;
  }
  if (ret <= 0)
    return;
  struct conn_info *info = conn_of(tgid, args.fd, file_of_fd(args.fd), INFRARED_ROLE_UNKNOWN, false);
  if (!info)
    return;
  /* Judged by its first payload whatever the agent flagged meanwhile (a
   * connection refused a place before it, say), so that a TLS one is known
   * as such. */
  __u32 flags = conn_flags(info);
  if (!(flags & INFRARED_CONN_SEEN) && first_payload_is_tls(info, &args, ret, tgid))
    return;
  /* Skipped: decided while this call blocked, or counted (see enter_io). */
  if (flags & INFRARED_CONN_SKIP) {
    if (flags & INFRARED_CONN_TLS) {
      bump(&sock_counters, INFRARED_SOCK_COUNT_TLS_CALLS);
    } else if (flags & INFRARED_CONN_COUNT) {
      __u8 head[8];
      count_unparsed((const char *)head,
                     ret >= (long)sizeof(head) && first_bytes(&args, head, sizeof(head)));
    } else {
      bump(&sock_counters, INFRARED_SOCK_COUNT_SKIPPED_CALLS);
    }
    return;
  }

  struct copy_state state = {.total = ret, .budget = capture_budget(flags)};
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
  struct infrared_stream_loss *loss = &info->loss[args.direction == INFRARED_DIR_EGRESS ? 0 : 1];
  send_call(&state, tgid, args.fd, info->generation, args.direction, args.kind != IO_SENDFILE,
            loss);
}

static __always_inline void on_close(int fd) {
  struct conn_key key = {.pid = bpf_get_current_pid_tgid() >> 32, .fd = fd};
  struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (!info)
    return;
  __u64 generation = info->generation;
  struct infrared_stream_loss loss[2] = {info->loss[0], info->loss[1]};
  bpf_map_delete_elem(&conns, &key);
  emit_close(key.pid, key.fd, generation, loss);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id) {
  if (id == nr_write || id == nr_sendto || id == nr_read || id == nr_recvfrom) {
    bool egress = id == nr_write || id == nr_sendto;
    enter_io(id, PT_REGS_PARM1_SYSCALL(regs), PT_REGS_PARM2_SYSCALL(regs), 0, IO_BUFFER,
             egress ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_writev || id == nr_readv) {
    enter_io(id, PT_REGS_PARM1_SYSCALL(regs), PT_REGS_PARM2_SYSCALL(regs),
             PT_REGS_PARM3_SYSCALL(regs), IO_IOVEC,
             id == nr_writev ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_sendmsg || id == nr_recvmsg) {
    enter_io(id, PT_REGS_PARM1_SYSCALL(regs), PT_REGS_PARM2_SYSCALL(regs), 0, IO_MSGHDR,
             id == nr_sendmsg ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS);
  } else if (id == nr_sendfile) {
    enter_io(id, PT_REGS_PARM1_SYSCALL(regs), 0, 0, IO_SENDFILE, INFRARED_DIR_EGRESS);
  } else if (id == nr_connect) {
    enter_io(id, PT_REGS_PARM1_SYSCALL(regs), 0, 0, IO_CONNECT, 0);
  } else if (id == nr_accept || id == nr_accept4) {
    enter_io(id, -1, 0, 0, IO_ACCEPT, 0);
  } else if (id == nr_close) {
    on_close(PT_REGS_PARM1_SYSCALL(regs));
  } else if (id == nr_mmap) {
    on_mmap(PT_REGS_PARM3_SYSCALL(regs), PT_REGS_PARM5_SYSCALL(regs));
  }
  return 0;
}

/* The number of the syscall returning, where the architecture keeps it. */
static __always_inline long syscall_of(struct pt_regs *regs) {
#if defined(__TARGET_ARCH_x86)
  return regs->orig_ax;
#else
  return -1; /* unknown: trust the thread's pending enter */
#endif
}

/* Whether an enter of this syscall may have left a call to finish: the
 * others (most syscalls) return without looking for the thread's storage. */
static __always_inline bool followed(long id) {
  return id < 0 || id == nr_write || id == nr_sendto || id == nr_read || id == nr_recvfrom ||
         id == nr_writev || id == nr_readv || id == nr_sendmsg || id == nr_recvmsg ||
         id == nr_sendfile || id == nr_connect || id == nr_accept || id == nr_accept4;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret) {
  long id = syscall_of(regs);
  if (followed(id))
    exit_io(id, ret);
  return 0;
}

/* --- flags from the agent ------------------------------------------------------ */

/* Run by the agent (BPF_PROG_RUN), never attached: sets flags on a connection
 * or TLS stream in place, leaving its loss counts, which the kernel adds to
 * atomically, as they are. The kernel writes its verdict on a connection in
 * a word of its own (conn_info.judged), so neither write is lost to the
 * other; the kernel never writes a TLS stream's flags. */
SEC("syscall")
int set_flags(struct infrared_flag_request *request) {
  __u32 *flags = 0;
  if (request->tls) {
    struct infrared_tls_stream_key key = request->tls_key;
    if (!key.stream) { /* the agent does not know it: found by (pid, generation) */
      struct tls_stream_id id = {.pid = request->pid, .generation = request->generation};
      struct infrared_tls_stream_key *known = bpf_map_lookup_elem(&tls_stream_keys, &id);
      if (known)
        key = *known;
    }
    struct infrared_tls_stream *stream = bpf_map_lookup_elem(&tls_streams, &key);
    if (stream && stream->generation == request->generation)
      flags = &stream->flags;
  } else {
    struct conn_key key = {.pid = request->pid, .fd = request->fd};
    struct conn_info *info = bpf_map_lookup_elem(&conns, &key);
    if (info && info->generation == request->generation)
      flags = &info->flags;
  }
  request->found = flags != 0;
  if (flags)
    *flags |= request->flags;
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
