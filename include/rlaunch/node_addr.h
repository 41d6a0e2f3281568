/* This node's address on the job's network, and how addresses order.
 *
 * Addresses compare numerically by their bytes (10.0.0.9 < 10.0.0.10, not
 * as strings), IPv4 before IPv6. The interface filter uses NCCL_SOCKET_IFNAME
 * syntax: a comma-separated list of name prefixes; a leading '^' excludes the
 * listed interfaces instead, a leading '=' (after any '^') means exact names.
 */
#ifndef RLAUNCH_NODE_ADDR_H
#define RLAUNCH_NODE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlaunch/strv.h"

#define RL_DEFAULT_IFACE_FILTER "^docker,lo,veth"
#define RL_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

struct rl_addr {
	uint8_t family;     /* AF_INET or AF_INET6 */
	uint8_t bytes[16];  /* network order; 4 used for IPv4 */
};

/** Parse a numeric IPv4 or IPv6 address. 0 or -EINVAL. */
int rl_addr_parse(const char *s, struct rl_addr *a);
/** Text form into buf (at least RL_ADDR_STRLEN). */
const char *rl_addr_format(const struct rl_addr *a, char *buf, size_t len);
/** <0, 0, >0: IPv4 before IPv6, then byte by byte. */
int rl_addr_compare(const struct rl_addr *a, const struct rl_addr *b);

struct rl_iface_filter {
	bool exclude;
	bool exact;
	struct rl_strv names;
};

int rl_iface_filter_parse(struct rl_iface_filter *f, const char *spec, char *err, size_t errlen);
void rl_iface_filter_release(struct rl_iface_filter *f);
bool rl_iface_filter_match(const struct rl_iface_filter *f, const char *ifname);

/**
 * The first IPv4 address (else the first global IPv6 address) of an
 * interface that is up and passes the filter. 0, or -ENOENT with a reason.
 */
int rl_node_addr_pick(const struct rl_iface_filter *f, struct rl_addr *out,
		      char *ifname, size_t ifname_len, char *err, size_t errlen);

/** The name of the interface that holds addr (into name), or -ENOENT. */
int rl_iface_of_addr(const struct rl_addr *addr, char *name, size_t len);

#endif
