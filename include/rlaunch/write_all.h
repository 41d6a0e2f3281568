/* Blocking writes that finish what they start: the console writer, the
 * rank log files and rlaunch's own messages all need the same loop.
 */
#ifndef RLAUNCH_WRITE_ALL_H
#define RLAUNCH_WRITE_ALL_H

#include <stddef.h>

/** write(2) all n bytes, again after EINTR. On any other error (EPIPE: the
 * reader is gone; ENOSPC) the rest is dropped: callers keep supervising. */
void rl_write_all(int fd, const void *buf, size_t n);

#endif
