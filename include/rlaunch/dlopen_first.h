/* Optional libraries are dlopen'ed by soname, newest first (NCCL's
 * ibvsymbols pattern); this is the one place that walks such a list. */
#ifndef RLAUNCH_DLOPEN_FIRST_H
#define RLAUNCH_DLOPEN_FIRST_H

#include <stddef.h>

/** The first of names that dlopen accepts (with flags), or NULL; dlerror() says why. */
void *rl_dlopen_first(const char *const *names, size_t n, int flags);

#endif
