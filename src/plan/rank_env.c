#include "rlaunch/rank_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/net_preset.h"

static int set_int(struct rl_strv *env, const char *key, long value)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%ld", value);
	return rl_env_set(env, key, buf);
}

static void strip_prefixes(struct rl_strv *env)
{
	static const char *const prefixes[] = { "PMIX_", "OMPI_COMM_WORLD_", "OMPI_MCA_orte_ess_" };
	size_t out = 0;

	for (size_t i = 0; i < env->n; i++) {
		bool drop = false;
		for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
			drop |= strncmp(env->v[i], prefixes[k], strlen(prefixes[k])) == 0;
		if (drop)
			free(env->v[i]);
		else
			env->v[out++] = env->v[i];
	}
	env->n = out;
	env->v[out] = NULL;
}

int rl_rank_env_build(struct rl_strv *env, const struct rl_rank_env_input *in, int local)
{
	const struct rl_plan *p = in->plan;
	const struct rl_rank_slot *s = &p->slots[local];
	int rc = 0;

	if (rl_strv_init(env) < 0 || rl_strv_push_all(env, in->envp) < 0)
		goto fail;
	if (in->strip_launcher_env)
		strip_prefixes(env);

	rc |= set_int(env, "RANK", s->rank);
	rc |= set_int(env, "LOCAL_RANK", s->env_local_rank);
	rc |= set_int(env, "WORLD_SIZE", p->world_size);
	rc |= set_int(env, "LOCAL_WORLD_SIZE", p->gpus_per_node);
	rc |= set_int(env, "NODE_RANK", p->node_rank);
	rc |= set_int(env, "GROUP_RANK", p->node_rank);
	rc |= rl_env_set(env, "MASTER_ADDR", p->master_addr);
	rc |= set_int(env, "MASTER_PORT", p->master_port);
	rc |= set_int(env, "TORCHELASTIC_RESTART_COUNT", in->restart_count);
	rc |= set_int(env, "TORCHELASTIC_MAX_RESTARTS", in->opts->max_restarts);
	rc |= rl_env_set(env, "TORCHELASTIC_RUN_ID", in->run_id);
	rc |= rl_env_set_default(env, "OMP_NUM_THREADS", "1");
	rc |= rl_env_set_default(env, "CUDA_DEVICE_MAX_CONNECTIONS", "1");
	if (!p->cpu_only)
		rc |= rl_env_set_default(env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	if (in->socket_ifname)
		rc |= rl_env_set_default(env, "GLOO_SOCKET_IFNAME", in->socket_ifname);
	rc |= rl_net_preset_apply(env, in->net);
	if (rc)
		goto fail;

	if (!p->cpu_only) {
		switch (p->cvd) {
		case RL_CVD_RESET:
			rl_env_unset(env, "CUDA_VISIBLE_DEVICES");
			break;
		case RL_CVD_SINGLE:
			if (rl_env_set(env, "CUDA_VISIBLE_DEVICES", s->gpu) < 0)
				goto fail;
			break;
		case RL_CVD_KEEP:
			break;
		}
	}
	for (size_t i = 0; i < in->opts->env_overrides.n; i++)
		if (rl_env_put(env, in->opts->env_overrides.v[i]) < 0)
			goto fail;
	return 0;
fail:
	rl_strv_release(env);
	return -ENOMEM;
}
