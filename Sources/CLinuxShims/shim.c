#ifdef __linux__
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include "linux_shims.h"

int cepoll_accept(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void clinux_name_thread(const char *name) { pthread_setname_np(pthread_self(), name); }
#endif
