#include "rlaunch/net_preset.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct kv {
	const char *key;
	const char *value;
};

/* NCCL's bootstrap and socket transport must not pick docker bridges, veth
 * pairs of containers, or loopback. */
#define SOCKET_IFNAME { "NCCL_SOCKET_IFNAME", "^docker,lo,veth" }

static const struct kv efa_vars[] = {
	{ "FI_PROVIDER", "efa" },
	SOCKET_IFNAME,
	{ NULL, NULL },
};
static const struct kv ib_vars[] = {
	{ "NCCL_IB_DISABLE", "0" },
	SOCKET_IFNAME,
	{ NULL, NULL },
};
static const struct kv socket_vars[] = {
	{ "NCCL_IB_DISABLE", "1" },
	{ "NCCL_NET", "Socket" },
	SOCKET_IFNAME,
	{ NULL, NULL },
};

enum rl_net_preset rl_net_preset_detect(const char *sysfs_root)
{
	char path[PATH_MAX], link[PATH_MAX];
	enum rl_net_preset found = RL_NET_NONE;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/class/infiniband", sysfs_root);
	dir = opendir(path);
	if (!dir)
		return RL_NET_NONE;
	while ((de = readdir(dir))) {
		ssize_t n;
		const char *driver;

		if (de->d_name[0] == '.')
			continue;
		found = RL_NET_IB;
		snprintf(path, sizeof(path), "%s/class/infiniband/%s/device/driver",
			 sysfs_root, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		driver = strrchr(link, '/');
		driver = driver ? driver + 1 : link;
		if (strcmp(driver, "efa") == 0) {
			found = RL_NET_EFA;
			break;
		}
	}
	closedir(dir);
	return found;
}

int rl_net_preset_apply(struct rl_strv *env, enum rl_net_preset preset)
{
	const struct kv *vars;

	switch (preset) {
	case RL_NET_EFA: vars = efa_vars; break;
	case RL_NET_IB: vars = ib_vars; break;
	case RL_NET_SOCKET: vars = socket_vars; break;
	default: return 0;
	}
	for (; vars->key; vars++)
		if (rl_env_set_default(env, vars->key, vars->value) < 0)
			return -1;
	return 0;
}
