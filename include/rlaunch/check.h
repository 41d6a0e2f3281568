/* The health check of one rank, run in a child of its worker stage (so
 * nothing of it — endpoints, buffers, provider threads — survives into the
 * training process).
 *
 *   1. open the backend (ofi: libfabric; nccl: the rank's GPU and NCCL);
 *      send what the others need up the control channel: the libfabric
 *      address, or from rank 0 NCCL's unique id
 *   2. receive every rank's address (or a NO-GO: stop)
 *   3. phase "node": all-reduce among this node's ranks; phase "all": among
 *      every rank. Each: one warm-up, --check-iters timed iterations,
 *      exact verification of every element, busbw = bytes/time * 2(n-1)/n
 *   4. send the result up; exit 0 (RL_CHECK_SAW_NOGO when told NO-GO early)
 *
 * Test-only hooks, off unless a variable names this rank:
 * RLAUNCH_TEST_CHECK_CORRUPT (wrong data), RLAUNCH_TEST_CHECK_HANG (never
 * finishes), RLAUNCH_TEST_CHECK_INIT_FAIL (backend cannot start).
 */
#ifndef RLAUNCH_CHECK_H
#define RLAUNCH_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "rlaunch/wire.h"

#define RL_CHECK_SAW_NOGO 10

enum rl_check_backend { RL_BACKEND_OFI, RL_BACKEND_NCCL };

struct rl_check_params {
	enum rl_check_backend backend;
	const char *provider;   /* ofi: libfabric provider */
	const char *bind_addr;  /* ofi: this node's address */
	const char *nccl_lib;   /* nccl: NULL for libnccl.so.2 */
	int device;             /* nccl: the CUDA device this rank uses */
	long bytes;
	int iters;
	double timeout_s;       /* per phase */
	int rank, world, local_world, node_rank;
	char *const *envp;      /* for the test hooks */
};

/** Run the check on control fd ctl; returns the child's exit status. */
int rl_check_run(int ctl, const struct rl_check_params *p);

/* Blocking frames on the control channel (worker side). */
int rl_ctl_send(int fd, struct rl_wbuf *w);
/**
 * Next frame from fd into reader within timeout_ms (<0: no limit): 1 with
 * type/payload/len set, 0 on timeout, negative on EOF or error.
 */
int rl_ctl_recv(int fd, struct rl_wire_reader *r, int timeout_ms, uint8_t *type,
		const uint8_t **payload, size_t *len);

#endif
