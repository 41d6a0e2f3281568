#include "rlaunch/dlopen_first.h"

#include <dlfcn.h>

void *rl_dlopen_first(const char *const *names, size_t n, int flags)
{
	void *h = NULL;

	for (size_t i = 0; i < n && !h; i++)
		h = dlopen(names[i], flags);
	return h;
}
