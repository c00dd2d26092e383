/* Helpers for reading task_struct fields with CO-RE. */
#pragma once

#include <bpf/bpf_core_read.h>

#include "vmlinux.h"

/* From include/linux/sched.h; not in BTF because they are macros. */
#define INFRARED_PF_EXITING 0x00000004
#define INFRARED_PF_KTHREAD 0x00200000

static __always_inline bool task_is_kthread(struct task_struct *task) {
  return BPF_CORE_READ(task, flags) & INFRARED_PF_KTHREAD;
}

static __always_inline bool task_is_exiting(struct task_struct *task) {
  return BPF_CORE_READ(task, flags) & INFRARED_PF_EXITING;
}

static __always_inline struct task_struct *current_task(void) {
  return (struct task_struct *)bpf_get_current_task();
}
