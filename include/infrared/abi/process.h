/* Process probes: the contract between bpf/process.bpf.c and the agent.
 * Plain C, fixed-width types, no implicit padding; the C++ side static_asserts
 * every size (agent/process/event_decoder.cc). */
#ifndef INFRARED_ABI_PROCESS_H
#define INFRARED_ABI_PROCESS_H

#ifdef __bpf__
/* vmlinux.h provides __u32 and friends. */
#else
#include <linux/types.h>
#endif

#define INFRARED_COMM_LEN 16
#define INFRARED_FILENAME_LEN 128

enum infrared_process_event_type {
  INFRARED_PROCESS_FORK = 1,
  INFRARED_PROCESS_EXEC = 2,
  INFRARED_PROCESS_EXIT = 3,
};

/* Common header of every event on the process ring buffer. */
struct infrared_process_event_header {
  __u32 type;  /* enum infrared_process_event_type */
  __u32 pid;   /* tgid of the process the event is about */
  __u32 ppid;  /* tgid of its parent (real_parent) */
  __u32 tid;   /* the thread that triggered the event */
  __u64 timestamp_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  char comm[INFRARED_COMM_LEN];
};

/* A new process (not a thread): fork, vfork or clone without CLONE_THREAD. */
struct infrared_process_fork_event {
  struct infrared_process_event_header header;
};

/* Caps on the argument and environment strings an exec event carries. */
#define INFRARED_EXEC_ARGS_MAX 1024
#define INFRARED_EXEC_ENV_MAX 30720 /* with the rest, under the 32 KiB of a per-CPU map value */

/* A successful execve. filename is as passed to execve, NUL-terminated,
 * truncated to INFRARED_FILENAME_LEN - 1 bytes.
 *
 * The record goes on with args_copied bytes of the new image's argv strings,
 * then env_copied bytes of its envp strings (NUL-separated, as in
 * /proc/<pid>/cmdline and environ), read at exec before the program runs: a
 * program that rewrites them later (a process title) does not change what the
 * agent sees. *_size are the whole lengths; a copy shorter than its size was
 * cut at the cap, and 0 of a non-zero size means it could not be read or the
 * ring buffer had room for the event alone. */
struct infrared_process_exec_event {
  struct infrared_process_event_header header;
  char filename[INFRARED_FILENAME_LEN];
  __u32 args_size;
  __u32 env_size;
  __u32 args_copied;
  __u32 env_copied;
};

/* Per-process figures aggregated in the kernel (map infrared_proc_stats). */
enum infrared_rss_member {
  INFRARED_RSS_FILE = 0,  /* MM_FILEPAGES */
  INFRARED_RSS_ANON = 1,  /* MM_ANONPAGES */
  INFRARED_RSS_SWAP = 2,  /* MM_SWAPENTS (not resident; kept for completeness) */
  INFRARED_RSS_SHMEM = 3, /* MM_SHMEMPAGES */
  INFRARED_RSS_MEMBERS = 4,
};

struct infrared_proc_stats {
  __u64 cpu_ns;               /* on-CPU time of all threads, alive and dead */
  __u64 voluntary_switches;   /* context switches where the task blocked */
  __u64 involuntary_switches; /* context switches where the task was preempted */
  __u64 page_faults;          /* user page faults seen since the entry was made */
  __u64 rss_bytes[INFRARED_RSS_MEMBERS]; /* last value reported by kmem/rss_stat */
  __u64 vm_bytes;             /* mm->total_vm in bytes, refreshed with rss */
  __u32 rss_known;            /* bit n set: rss_bytes[n] has been reported since exec */
  __u32 mm_id;               /* mm the rss figures belong to; a new mm (exec) resets them */
};

/* The last thread of a process exited. stats is the final snapshot; the kernel
 * forgets the process after sending it. exit_code is the wait(2) status. */
struct infrared_process_exit_event {
  struct infrared_process_event_header header;
  __s32 exit_code;
  __u32 has_stats; /* 0 when the process had no stats entry */
  struct infrared_proc_stats stats;
};

/* Index of the kernel-side drop counters (map infrared_process_drops). */
enum infrared_process_drop {
  INFRARED_DROP_RINGBUF_FULL = 0,    /* an event did not fit the ring buffer */
  INFRARED_DROP_STATS_MAP_FULL = 1,  /* no room for a new process in infrared_proc_stats */
  INFRARED_DROP_THREAD_MAP_FULL = 2, /* a thread's runtime mark could not be made */
  INFRARED_DROP_EXEC_STRINGS = 3,    /* an exec went without its argv or envp strings:
                                        unreadable, or too big for the ring buffer's room */
  INFRARED_DROP_COUNT = 4,
};

#endif /* INFRARED_ABI_PROCESS_H */
