/* SPDX-License-Identifier: Apache-2.0 */
/* Preloaded before libfaketime into the fleetd of test-70-clock-jump.sh: libfaketime 0.9.10 moves
 * the absolute times of timerfd_settime() by its realtime offset even for CLOCK_MONOTONIC timers
 * (DONT_FAKE_MONOTONIC notwithstanding), which stalls sd-event's monotonic timers after a jump.
 * The kernel's timers are what a host whose wall clock was set would have: these go straight to
 * the system calls, so only the reads of CLOCK_REALTIME are faked. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

int timerfd_settime(int fd, int flags, const struct itimerspec *new_value, struct itimerspec *old_value) {
        return (int) syscall(SYS_timerfd_settime, fd, flags, new_value, old_value);
}

int timerfd_gettime(int fd, struct itimerspec *curr_value) {
        return (int) syscall(SYS_timerfd_gettime, fd, curr_value);
}
