/* The environment one rank is started with. Pure: built from the inherited
 * environment, the plan and the options; nothing is read from the process.
 *
 * Order (later wins): inherited environment; RANK LOCAL_RANK WORLD_SIZE
 * LOCAL_WORLD_SIZE NODE_RANK GROUP_RANK MASTER_ADDR MASTER_PORT
 * TORCHELASTIC_RESTART_COUNT TORCHELASTIC_MAX_RESTARTS TORCHELASTIC_RUN_ID;
 * OMP_NUM_THREADS=1, CUDA_DEVICE_MAX_CONNECTIONS=1 and
 * CUDA_DEVICE_ORDER=PCI_BUS_ID unless already set; GLOO_SOCKET_IFNAME = the
 * interface the agent uses for the job (multi-node) unless set, since gloo
 * otherwise trusts whatever the host name resolves to; the network preset
 * (unless set); CUDA_VISIBLE_DEVICES by policy; finally every --env K=V.
 * Under PMIx (srun --mpi=pmix, mpirun) the agent's own PMIX_* and
 * OMPI_COMM_WORLD_* variables are removed first: a rank that saw them would
 * take itself for the agent's MPI process.
 */
#ifndef RLAUNCH_RANK_ENV_H
#define RLAUNCH_RANK_ENV_H

#include "rlaunch/options.h"
#include "rlaunch/plan.h"
#include "rlaunch/strv.h"

struct rl_rank_env_input {
	char *const *envp;          /* inherited environment */
	const struct rl_plan *plan;
	const struct rl_options *opts;
	enum rl_net_preset net;     /* resolved: never RL_NET_AUTO */
	int restart_count;
	const char *run_id;
	bool strip_launcher_env;    /* drop PMIX_* and OMPI_COMM_WORLD_*: they describe the agent */
	const char *socket_ifname;  /* the job's interface here, for GLOO_SOCKET_IFNAME; or NULL */
};

/** Build local rank `local`'s environment into env (initialised here). 0 or -ENOMEM. */
int rl_rank_env_build(struct rl_strv *env, const struct rl_rank_env_input *in, int local);

#endif
