/* Bootstrap: how many agents the job has, which one hosts the coordinator,
 * and where to reach it. Pure: reads the options and the environment given.
 *
 * --rdzv auto tries, in order: pmix (PMIX_RANK and PMIX_NAMESPACE set, as
 * under srun --mpi=pmix or mpirun), slurm (SLURM_PROCID and a step node
 * list), tcp (--rdzv-endpoint given), single (one node).
 *
 *   slurm  agents = SLURM_STEP_NUM_TASKS, which must equal the step's node
 *          count: one agent per node (srun --ntasks-per-node=1); several
 *          tasks per node are refused with a message saying so. The agent
 *          on the first host of SLURM_STEP_NODELIST (SLURMD_NODENAME; else
 *          SLURM_PROCID=0) serves on every address; the others connect to
 *          that host. Port: the one in --rdzv-endpoint, else 29400 +
 *          (SLURM_JOB_ID * 7 + SLURM_STEP_ID) % 1000.
 *   tcp    agents = --nodes; the agent that can bind HOST:PORT serves (the
 *          first, when several share a machine), the others connect.
 *   pmix   agents = the PMIx job size; node infos travel through PMIx.
 */
#ifndef RLAUNCH_BOOTSTRAP_H
#define RLAUNCH_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>

#include "rlaunch/options.h"

#define RL_DEFAULT_RDZV_PORT 29400

struct rl_bootstrap {
	enum rl_rdzv_kind kind;   /* resolved: never RL_RDZV_AUTO */
	int nodes;                /* agents expected */
	bool serve;               /* host the coordinator (slurm: PROCID 0) */
	bool try_serve;           /* tcp: serve if HOST:PORT can be bound here */
	char host[256];           /* endpoint host */
	int port;
	int pmix_rank;            /* pmix: this agent's PMIx rank */
};

const char *rl_rdzv_kind_name(enum rl_rdzv_kind kind);

/** Resolve. Returns 0, or -EINVAL with one line in err. */
int rl_bootstrap_resolve(struct rl_bootstrap *b, const struct rl_options *o, char *const *envp,
			 char *err, size_t errlen);

/** Split "HOST:PORT" / "[V6]:PORT" / "HOST" (port = default). 0 or -EINVAL. */
int rl_endpoint_parse(const char *s, int default_port, char *host, size_t hostlen, int *port);

#endif
