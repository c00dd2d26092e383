/* From an fd of the current task to its file and TCP socket, with CO-RE. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* Macros in the kernel's headers, not in BTF. */
#define INFRARED_S_IFMT 00170000
#define INFRARED_S_IFSOCK 0140000
#define INFRARED_AF_INET 2
#define INFRARED_AF_INET6 10
#define INFRARED_SOCK_STREAM 1
#define INFRARED_IPPROTO_TCP 6

/* The open file behind `fd` of the current task, else NULL. Up to the fd
 * array the task's structures are read directly, through BTF (cheaper than a
 * helper call per field), which only BTF-aware programs (tp_btf) may do. */
static __always_inline struct file *file_of_fd(int fd) {
  if (fd < 0)
    return 0;
  struct files_struct *files = bpf_get_current_task_btf()->files;
  if (!files)
    return 0;
  struct fdtable *fdt = files->fdt;
  if (!fdt || (unsigned int)fd >= fdt->max_fds)
    return 0;
  struct file **fds = fdt->fd;
  struct file *file = 0;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
    return 0;
  return file;
}

/* The sock behind `file` when it is an IPv4 or IPv6 TCP socket, else NULL. */
static __always_inline struct sock *tcp_sock_of_file(struct file *file) {
  if (!file)
    return 0;
  if ((BPF_CORE_READ(file, f_inode, i_mode) & INFRARED_S_IFMT) != INFRARED_S_IFSOCK)
    return 0;
  struct socket *socket = BPF_CORE_READ(file, private_data);
  struct sock *sk = BPF_CORE_READ(socket, sk);
  if (!sk)
    return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (BPF_CORE_READ(sk, sk_type) != INFRARED_SOCK_STREAM ||
      BPF_CORE_READ(sk, sk_protocol) != INFRARED_IPPROTO_TCP ||
      (family != INFRARED_AF_INET && family != INFRARED_AF_INET6))
    return 0;
  return sk;
}

/* The sock behind `fd` when it is an IPv4 or IPv6 TCP socket, else NULL. */
static __always_inline struct sock *tcp_sock_of_fd(int fd) {
  return tcp_sock_of_file(file_of_fd(fd));
}
