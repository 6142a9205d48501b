#ifdef __linux__
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "linux_shims.h"

int cepoll_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int cepoll_timerfd_arm(int fd, long long nanoseconds) {
    struct itimerspec when = {0};
    when.it_value.tv_sec = nanoseconds / 1000000000LL;
    when.it_value.tv_nsec = nanoseconds % 1000000000LL;
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
    return timerfd_settime(fd, 0, &when, NULL);
}

int cepoll_accept(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void clinux_name_thread(const char *name) {
    // The kernel keeps 15 characters and refuses a longer name outright: cut it.
    char kept[16];
    strncpy(kept, name, sizeof kept - 1);
    kept[sizeof kept - 1] = 0;
    pthread_setname_np(pthread_self(), kept);
}

void clinux_trim_memory(void) { malloc_trim(0); }
int clinux_limit_arenas(int arenas) { return mallopt(M_ARENA_MAX, arenas); }
int clinux_fix_malloc_thresholds(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
int clinux_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }
int clinux_syncfs(int fd) { return syncfs(fd); }
#endif
