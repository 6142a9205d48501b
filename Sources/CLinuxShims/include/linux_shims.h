// Linux calls the Glibc module does not export to Swift: epoll, eventfd, timerfd and accept4 (the fast paths of
// `autoprov serve`, the epoll-ceiling benchmark) and naming a thread (so `top -H` shows what each one does).
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

static inline int cepoll_fd(const struct epoll_event *event) { return event->data.fd; }
static inline unsigned int cepoll_events(const struct epoll_event *event) { return event->events; }
static inline void cepoll_set(struct epoll_event *event, int fd, unsigned int events) {
    event->data.fd = fd;
    event->events = events;
}
/// A non-blocking, close-on-exec eventfd (to wake an epoll loop).
static inline int cepoll_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
/// A non-blocking, close-on-exec timer on the monotonic clock (to wake an epoll loop within microseconds).
int cepoll_timerfd(void);
/// Arms a timer made by cepoll_timerfd to fire once, `nanoseconds` from now.
int cepoll_timerfd_arm(int fd, long long nanoseconds);
/// accept4 with a non-blocking, close-on-exec socket (in shim.c: it needs _GNU_SOURCE, which must not change the
/// system headers other modules see).
int cepoll_accept(int fd, struct sockaddr *address, socklen_t *length);
/// Names the calling thread (at most 15 characters are kept).
void clinux_name_thread(const char *name);
/// Gives the memory the allocator holds free back to the system (glibc's malloc_trim).
void clinux_trim_memory(void);
/// At most `arenas` malloc arenas (glibc makes up to 8 a core, and a fleet's files rendered on every thread
/// leave each of them holding freed memory); 0 when it cannot be set.
int clinux_limit_arenas(int arenas);
/// Fixed malloc thresholds (glibc's own rise with the program): blocks of `mmap_threshold` bytes or more are their
/// own mappings, given back to the system when freed, and a heap's free top beyond `trim_threshold` is given back;
/// 0 when they cannot be set.
int clinux_fix_malloc_thresholds(int mmap_threshold, int trim_threshold);
/// Starts writing `fd`'s dirty pages to the disk without waiting for them (sync_file_range(2) with
/// SYNC_FILE_RANGE_WRITE, a _GNU_SOURCE call): a later fsync of each of several files then waits for writes that
/// are already under way together.
int clinux_start_writeback(int fd);
/// Writes everything dirty on `fd`'s filesystem to the disk and flushes it (syncfs(2), a _GNU_SOURCE call).
int clinux_syncfs(int fd);
#endif
