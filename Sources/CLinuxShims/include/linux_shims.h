// epoll for Swift on Linux (the Glibc module does not export it), for the epoll-ceiling benchmark.
#include <sys/epoll.h>
#include <netinet/tcp.h>

static inline int cepoll_fd(const struct epoll_event *event) { return event->data.fd; }
static inline void cepoll_set(struct epoll_event *event, int fd, unsigned int events) {
    event->data.fd = fd;
    event->events = events;
}
