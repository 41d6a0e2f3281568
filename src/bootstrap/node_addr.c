#include "rlaunch/node_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlaunch/log.h"

int rl_addr_parse(const char *s, struct rl_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s && inet_pton(AF_INET, s, a->bytes) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (s && inet_pton(AF_INET6, s, a->bytes) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *rl_addr_format(const struct rl_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int rl_addr_compare(const struct rl_addr *a, const struct rl_addr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

int rl_iface_filter_parse(struct rl_iface_filter *f, const char *spec, char *err, size_t errlen)
{
	const char *p = spec;

	memset(f, 0, sizeof(*f));
	if (rl_strv_init(&f->names) < 0)
		return -ENOMEM;
	if (*p == '^') {
		f->exclude = true;
		p++;
	}
	if (*p == '=') {
		f->exact = true;
		p++;
	}
	for (;;) {
		char name[IFNAMSIZ + 1];
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0 || len > IFNAMSIZ) {
			rl_errbuf(err, errlen, "invalid interface filter '%s': expected names such as "
				  "'eth0,ens' or '^docker,lo'", spec);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (rl_strv_push(&f->names, name) < 0)
			return -ENOMEM;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

void rl_iface_filter_release(struct rl_iface_filter *f)
{
	rl_strv_release(&f->names);
}

bool rl_iface_filter_match(const struct rl_iface_filter *f, const char *ifname)
{
	bool listed = false;

	for (size_t i = 0; i < f->names.n && !listed; i++) {
		const char *n = f->names.v[i];
		listed = f->exact ? strcmp(ifname, n) == 0 : strncmp(ifname, n, strlen(n)) == 0;
	}
	return f->exclude ? !listed : listed;
}

int rl_node_addr_pick(const struct rl_iface_filter *f, struct rl_addr *out,
		      char *ifname, size_t ifname_len, char *err, size_t errlen)
{
	struct ifaddrs *ifa, *p;
	const struct ifaddrs *v6 = NULL;

	if (getifaddrs(&ifa) < 0) {
		rl_errbuf(err, errlen, "cannot list network interfaces: %s", strerror(errno));
		return -errno;
	}
	for (p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_addr || !(p->ifa_flags & IFF_UP) || !rl_iface_filter_match(f, p->ifa_name))
			continue;
		if (p->ifa_addr->sa_family == AF_INET) {
			memset(out, 0, sizeof(*out));
			out->family = AF_INET;
			memcpy(out->bytes, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, 4);
			snprintf(ifname, ifname_len, "%s", p->ifa_name);
			freeifaddrs(ifa);
			return 0;
		}
		if (p->ifa_addr->sa_family == AF_INET6 && !v6) {
			const struct in6_addr *a6 = &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;
			if (!IN6_IS_ADDR_LINKLOCAL(a6) && !IN6_IS_ADDR_LOOPBACK(a6))
				v6 = p;
		}
	}
	if (v6) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET6;
		memcpy(out->bytes, &((struct sockaddr_in6 *)v6->ifa_addr)->sin6_addr, 16);
		snprintf(ifname, ifname_len, "%s", v6->ifa_name);
		freeifaddrs(ifa);
		return 0;
	}
	freeifaddrs(ifa);
	rl_errbuf(err, errlen, "no network interface that is up matches the interface filter; "
		  "pass --iface NAMES or --node-addr ADDR");
	return -ENOENT;
}

int rl_iface_of_addr(const struct rl_addr *addr, char *name, size_t len)
{
	struct ifaddrs *ifa, *p;
	int rc = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (p = ifa; p && rc; p = p->ifa_next) {
		const uint8_t *bytes, *mask;
		size_t n = addr->family == AF_INET ? 4 : 16;
		bool same = true, in_net = true;

		if (!p->ifa_addr || !p->ifa_netmask ||
		    p->ifa_addr->sa_family != (addr->family == AF_INET6 ? AF_INET6 : AF_INET))
			continue;
		if (addr->family == AF_INET) {
			bytes = (const uint8_t *)&((struct sockaddr_in *)p->ifa_addr)->sin_addr;
			mask = (const uint8_t *)&((struct sockaddr_in *)p->ifa_netmask)->sin_addr;
		} else {
			bytes = (const uint8_t *)&((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;
			mask = (const uint8_t *)&((struct sockaddr_in6 *)p->ifa_netmask)->sin6_addr;
		}
		for (size_t i = 0; i < n; i++) {
			same &= bytes[i] == addr->bytes[i];
			in_net &= (bytes[i] & mask[i]) == (addr->bytes[i] & mask[i]);
		}
		/* the loopback interface answers for its whole network (127.0.0.0/8) */
		if (same || (in_net && (p->ifa_flags & IFF_LOOPBACK))) {
			snprintf(name, len, "%s", p->ifa_name);
			rc = 0;
		}
	}
	freeifaddrs(ifa);
	return rc;
}
