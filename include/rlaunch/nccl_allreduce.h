/* The NCCL backend of the health check: device buffers, all-reduce through
 * the very libnccl.so.2 the training will load (--nccl-lib PATH), with
 * libcudart and libnccl dlopen'ed so rlaunch starts on machines without
 * CUDA. Runs only in the check child of a rank (check.h), never in the
 * agent, so the agent's fork stays CUDA-free.
 *
 * Rank 0 makes the unique id; it travels through the coordinator like an
 * address. Two communicators: all ranks, and this node's ranks
 * (ncclCommSplit by node). A collective that does not finish before the
 * timeout is aborted (ncclCommAbort) and reported as a timeout.
 */
#ifndef RLAUNCH_NCCL_ALLREDUCE_H
#define RLAUNCH_NCCL_ALLREDUCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_NCCL_ID_BYTES 128

struct rl_nccl;

/** Load the libraries and select device. 0, or -ENOENT / -ENODEV with err. */
int rl_nccl_open(struct rl_nccl **out, const char *nccl_lib, int device, char *err, size_t errlen);
/** Rank 0: a fresh unique id. */
int rl_nccl_unique_id(struct rl_nccl *n, uint8_t id[RL_NCCL_ID_BYTES], char *err, size_t errlen);
/** Join the job's communicator, then split off this node's. */
int rl_nccl_init(struct rl_nccl *n, const uint8_t id[RL_NCCL_ID_BYTES], int nranks, int rank,
		 int node, double timeout_s, char *err, size_t errlen);
/**
 * Sum count floats of host across the node's ranks (node) or all ranks,
 * through device memory; *seconds is the collective alone.
 * -ETIMEDOUT after aborting the communicators.
 */
int rl_nccl_allreduce(struct rl_nccl *n, bool node, float *host, size_t count, double timeout_s,
		      double *seconds, char *err, size_t errlen);
/** Destroy the communicators, free device memory, reset the device. */
void rl_nccl_close(struct rl_nccl *n);

#endif
