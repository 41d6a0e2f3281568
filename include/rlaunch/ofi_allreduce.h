/* The libfabric backend of the health check: host buffers, a ring
 * all-reduce (reduce-scatter, then all-gather) over tagged messages on RDM
 * endpoints. libfabric.so.1 is dlopen'ed, so rlaunch starts without it.
 *
 * With the efa provider this checks an EFA fabric without any GPU; with tcp
 * (or sockets, shm) it runs anywhere. One rl_ofi per rank process: open,
 * publish rl_ofi_address through the coordinator, set every rank's address,
 * then run collectives over any ordered group of ranks (a node's ranks for
 * the intra-node phase, all ranks for the job-wide one).
 *
 * All calls return 0 or a negative errno with one line in err; a peer that
 * stays silent past the timeout gives -ETIMEDOUT naming the step.
 */
#ifndef RLAUNCH_OFI_ALLREDUCE_H
#define RLAUNCH_OFI_ALLREDUCE_H

#include <stddef.h>
#include <stdint.h>

#define RL_OFI_ADDR_MAX 256

struct rl_ofi;

/**
 * provider: "tcp", "efa", "shm", "sockets" ... (NULL: FI_PROVIDER, else the
 * best RDM provider). node: bind to this local address (NULL: provider's
 * choice); tests pass 127.0.0.1 to stay on loopback.
 */
int rl_ofi_open(struct rl_ofi **out, const char *provider, const char *node, char *err,
		size_t errlen);
/** The provider actually used ("tcp;ofi_rxm"). */
const char *rl_ofi_provider(const struct rl_ofi *o);
/** This endpoint's address: up to RL_OFI_ADDR_MAX bytes into addr, length in *len. */
int rl_ofi_address(struct rl_ofi *o, uint8_t *addr, size_t *len, char *err, size_t errlen);
/** Every rank's address, rank order; addrs is nranks * addrlen bytes. */
int rl_ofi_set_peers(struct rl_ofi *o, const uint8_t *addrs, size_t addrlen, int nranks,
		     char *err, size_t errlen);
/**
 * Sum float buffers in place over group (ranks, in ring order; this rank is
 * group[me]). tag distinguishes concurrent or successive collectives.
 */
int rl_ofi_allreduce(struct rl_ofi *o, const int *group, int ngroup, int me, float *buf,
		     size_t count, uint32_t tag, double timeout_s, char *err, size_t errlen);
void rl_ofi_close(struct rl_ofi *o);

#endif
