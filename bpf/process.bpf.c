// SPDX-License-Identifier: GPL-2.0
/* Process lifecycle, on-CPU time, context switches, resident memory and page
 * faults, from tracepoints and raw tracepoints only (no kprobes, no fentry).
 * Lifecycle events go to a ring buffer; the figures are aggregated per process
 * in proc_stats and read by the agent at scrape time. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "infrared/abi/process.h"
#include "lib/task.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the agent between open and load. */
const volatile __u64 page_size = 4096;

/* Sizes are defaults; the agent sets them from its config before load. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} proc_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32); /* tgid */
  __type(value, struct infrared_proc_stats);
} proc_stats SEC(".maps");

/* Each thread's se.sum_exec_runtime when it last left the CPU: task storage,
 * so it goes with the thread, and follows a thread that execs and takes its
 * leader's tid (de_thread) without being moved. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, __u64);
} thread_runtime SEC(".maps");

/* rss_stat names an mm by a hash; this remembers whose it is, so updates made
 * from another context (reclaim, exit) still find their process. LRU: an mm
 * that is gone ages out by itself. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32);   /* mm_id */
  __type(value, __u32); /* tgid */
} mm_owner SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, INFRARED_DROP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} proc_drops SEC(".maps");

static __always_inline void count_drop(__u32 reason) {
  __u64 *count = bpf_map_lookup_elem(&proc_drops, &reason);
  if (count)
    *count += 1;
}

/* The stats entry of the process `task` belongs to, made on first sight. A new
 * entry starts from signal->sum_sched_runtime, the runtime of threads that died
 * before we saw them; live threads add theirs when they first leave the CPU. A
 * process that is exiting is not given a new entry: its exit event has
 * already carried its final figures. */
static __always_inline struct infrared_proc_stats *stats_of(struct task_struct *task, __u32 tgid) {
  struct infrared_proc_stats *stats = bpf_map_lookup_elem(&proc_stats, &tgid);
  if (stats || task_is_exiting(task))
    return stats;
  struct infrared_proc_stats fresh = {};
  fresh.cpu_ns = BPF_CORE_READ(task, signal, sum_sched_runtime);
  long err = bpf_map_update_elem(&proc_stats, &tgid, &fresh, BPF_NOEXIST);
  if (err && err != -17 /* EEXIST: another CPU made it first */) {
    count_drop(INFRARED_DROP_STATS_MAP_FULL);
    return 0;
  }
  return bpf_map_lookup_elem(&proc_stats, &tgid);
}

static __always_inline void fill_header(struct infrared_process_event_header *header, __u32 type,
                                        struct task_struct *task) {
  header->type = type;
  header->pid = BPF_CORE_READ(task, tgid);
  header->tid = BPF_CORE_READ(task, pid);
  header->ppid = BPF_CORE_READ(task, real_parent, tgid);
  header->timestamp_ns = bpf_ktime_get_ns();
  BPF_CORE_READ_STR_INTO(&header->comm, task, comm);
}

/* --- on-CPU time and context switches ------------------------------------ */

/* `prev` comes from a BTF tracepoint: its fields are read directly. */
static __always_inline void on_switch_out(bool preempt, struct task_struct *prev,
                                          unsigned int prev_state) {
  if (prev->pid == 0 || (prev->flags & INFRARED_PF_KTHREAD))
    return;
  __u32 tgid = prev->tgid;
  __u64 runtime = prev->se.sum_exec_runtime;

  __u64 *mark = bpf_task_storage_get(&thread_runtime, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
  __u64 delta = 0; /* without a mark: counted at a later switch that makes one */
  if (mark) {
    /* A new mark is 0: the thread's whole runtime so far counts. */
    delta = runtime > *mark ? runtime - *mark : 0;
    *mark = runtime;
  } else {
    count_drop(INFRARED_DROP_THREAD_MAP_FULL);
  }

  struct infrared_proc_stats *stats = stats_of(prev, tgid);
  if (!stats)
    return;
  __sync_fetch_and_add(&stats->cpu_ns, delta);
  /* As __schedule counts nvcsw: the task gave up the CPU to block. */
  if (!preempt && prev_state != 0)
    __sync_fetch_and_add(&stats->voluntary_switches, 1);
  else
    __sync_fetch_and_add(&stats->involuntary_switches, 1);
}

/* prev_state is the tracepoint's fourth argument since Linux 5.18. */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  on_switch_out(preempt, prev, prev_state);
  return 0;
}

/* --- memory ---------------------------------------------------------------- */

static __always_inline void on_rss_stat(__u32 mm_id, bool curr, int member, long size) {
  if (member < 0 || member >= INFRARED_RSS_MEMBERS)
    return;
  struct infrared_proc_stats *stats;
  if (curr) {
    struct task_struct *task = current_task();
    if (task_is_kthread(task))
      return;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u32 *owner = bpf_map_lookup_elem(&mm_owner, &mm_id);
    if (!owner || *owner != tgid)
      bpf_map_update_elem(&mm_owner, &mm_id, &tgid, BPF_ANY);
    stats = stats_of(task, tgid);
    if (!stats)
      return;
    if (stats->mm_id != mm_id) { /* exec gave the process a new mm */
      stats->mm_id = mm_id;
      stats->rss_known = 0;
    }
    stats->vm_bytes = BPF_CORE_READ(task, mm, total_vm) * page_size;
  } else {
    __u32 *owner = bpf_map_lookup_elem(&mm_owner, &mm_id);
    if (!owner)
      return;
    stats = bpf_map_lookup_elem(&proc_stats, owner);
    if (!stats || stats->mm_id != mm_id)
      return;
  }
  stats->rss_bytes[member & (INFRARED_RSS_MEMBERS - 1)] = size > 0 ? size : 0;
  /* Not atomic: a lost bit only means one more scrape reads the /proc baseline. */
  stats->rss_known |= 1u << member;
}

/* The raw tracepoint gives the mm itself; the figure is the one the rss_stat
 * event would print, the counter's global value. Linux 6.2 made rss_stat an
 * array of percpu_counter. */
SEC("raw_tp/rss_stat")
int BPF_PROG(handle_rss_stat, struct mm_struct *mm, int member) {
  if (member < 0 || member >= INFRARED_RSS_MEMBERS)
    return 0;
  struct percpu_counter *counter = &mm->rss_stat[member & (INFRARED_RSS_MEMBERS - 1)];
  __s64 pages = BPF_CORE_READ(counter, count);
  struct mm_struct *current_mm = BPF_CORE_READ(current_task(), mm);
  __u32 mm_id = (__u32)((__u64)mm ^ ((__u64)mm >> 32));
  on_rss_stat(mm_id, mm == current_mm, member, pages > 0 ? pages * (long)page_size : 0);
  return 0;
}

SEC("raw_tp/page_fault_user")
int handle_page_fault_user(void *ctx) {
  struct task_struct *task = current_task();
  if (task_is_kthread(task))
    return 0;
  struct infrared_proc_stats *stats = stats_of(task, bpf_get_current_pid_tgid() >> 32);
  if (stats)
    __sync_fetch_and_add(&stats->page_faults, 1);
  return 0;
}

/* --- lifecycle --------------------------------------------------------------- */

/* Waking the agent for every event costs more than the event (about 15 us an
 * event, measured with bpf_stats on 5,000 /bin/true): exits wake it only once a
 * quarter of the buffer waits (the agent drains it every 100 ms, and the next
 * fork or exec delivers them). Forks and execs wake it at once, forced: the
 * agent must know a process before its first socket events are read, and the
 * default adaptive wakeup would stay silent while unread exits wait. */
static __always_inline __u64 lazy_wakeup(void) {
  return bpf_ringbuf_query(&proc_events, BPF_RB_AVAIL_DATA) >=
                 bpf_ringbuf_query(&proc_events, BPF_RB_RING_SIZE) / 4
             ? BPF_RB_FORCE_WAKEUP
             : BPF_RB_NO_WAKEUP;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid) || task_is_kthread(child))
    return 0; /* a new thread, not a new process */
  struct infrared_process_fork_event *event =
      bpf_ringbuf_reserve(&proc_events, sizeof(*event), 0);
  if (!event) {
    count_drop(INFRARED_DROP_RINGBUF_FULL);
    return 0;
  }
  fill_header(&event->header, INFRARED_PROCESS_FORK, child);
  bpf_ringbuf_submit(event, BPF_RB_FORCE_WAKEUP);
  return 0;
}

/* An exec event with its argv and envp strings: built here, then copied to the
 * ring buffer at the size it came to (usually a few KiB, not the caps). */
struct exec_record {
  struct infrared_process_exec_event event;
  char strings[INFRARED_EXEC_ARGS_MAX + INFRARED_EXEC_ENV_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct exec_record);
} exec_scratch SEC(".maps");

/* Copies up to `cap` bytes of the user strings in [start, end) to `to`; 0 when
 * they could not be read (not resident: exec has just written them, so only
 * reclaim in between could do that). */
static __always_inline __u32 copy_strings(char *to, __u64 start, __u64 end, __u32 cap) {
  __u64 size = end > start ? end - start : 0;
  __u32 len = size < cap ? (__u32)size : cap;
  if (len == 0 || bpf_probe_read_user(to, len, (const void *)start) != 0)
    return 0;
  return len;
}

/* sched_process_exec fires once the new image is set up and before it runs:
 * its argv and envp strings are on its stack, as execve gave them. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_sched_process_exec, struct task_struct *task, pid_t old_pid,
             struct linux_binprm *bprm) {
  __u32 zero = 0;
  struct exec_record *record = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!record) { /* a one-entry array has its entry: never, but the verifier asks */
    count_drop(INFRARED_DROP_RINGBUF_FULL);
    return 0;
  }
  struct infrared_process_exec_event *event = &record->event;
  fill_header(&event->header, INFRARED_PROCESS_EXEC, task);
  bpf_probe_read_kernel_str(event->filename, sizeof(event->filename),
                            BPF_CORE_READ(bprm, filename));
  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  __u64 arg_start = BPF_CORE_READ(mm, arg_start), arg_end = BPF_CORE_READ(mm, arg_end);
  __u64 env_start = BPF_CORE_READ(mm, env_start), env_end = BPF_CORE_READ(mm, env_end);
  event->args_size = arg_end > arg_start ? arg_end - arg_start : 0;
  event->env_size = env_end > env_start ? env_end - env_start : 0;
  __u32 args = copy_strings(record->strings, arg_start, arg_end, INFRARED_EXEC_ARGS_MAX);
  /* copy_strings never returns more than its cap; the verifier needs to see the
   * bound to allow the second copy's offset and the output's size. */
  if (args > INFRARED_EXEC_ARGS_MAX)
    args = 0;
  __u32 env = copy_strings(record->strings + args, env_start, env_end, INFRARED_EXEC_ENV_MAX);
  if (env > INFRARED_EXEC_ENV_MAX)
    env = 0;
  event->args_copied = args;
  event->env_copied = env;
  /* Each exec counts once: as an event lost, or as an event without strings. */
  if (bpf_ringbuf_output(&proc_events, record, sizeof(*event) + args + env,
                         BPF_RB_FORCE_WAKEUP) == 0) {
    if ((args == 0 && event->args_size != 0) || (env == 0 && event->env_size != 0))
      count_drop(INFRARED_DROP_EXEC_STRINGS);
    return 0;
  }
  if (args + env != 0) {
    /* No room for the strings: the event alone, and the agent reads /proc. */
    event->args_copied = 0;
    event->env_copied = 0;
    if (bpf_ringbuf_output(&proc_events, event, sizeof(*event), BPF_RB_FORCE_WAKEUP) == 0) {
      count_drop(INFRARED_DROP_EXEC_STRINGS);
      return 0;
    }
  }
  count_drop(INFRARED_DROP_RINGBUF_FULL);
  return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(handle_sched_process_exit, struct task_struct *task) {
  if (task_is_kthread(task) || BPF_CORE_READ(task, signal, live.counter) != 0)
    return 0; /* a thread ended, the process goes on */
  __u32 tgid = BPF_CORE_READ(task, tgid);
  struct infrared_proc_stats *stats = bpf_map_lookup_elem(&proc_stats, &tgid);
  struct infrared_process_exit_event *event =
      bpf_ringbuf_reserve(&proc_events, sizeof(*event), 0);
  if (event) {
    fill_header(&event->header, INFRARED_PROCESS_EXIT, task);
    event->exit_code = BPF_CORE_READ(task, exit_code);
    event->has_stats = stats != 0;
    if (stats)
      __builtin_memcpy(&event->stats, stats, sizeof(event->stats));
    else
      __builtin_memset(&event->stats, 0, sizeof(event->stats));
    bpf_ringbuf_submit(event, lazy_wakeup());
  } else {
    count_drop(INFRARED_DROP_RINGBUF_FULL);
  }
  if (stats)
    bpf_map_delete_elem(&proc_stats, &tgid);
  return 0;
}
