#include "rlaunch/bootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rlaunch/hostlist.h"
#include "rlaunch/log.h"
#include "rlaunch/parse.h"
#include "rlaunch/strv.h"

const char *rl_rdzv_kind_name(enum rl_rdzv_kind kind)
{
	static const char *const names[] = {
		[RL_RDZV_AUTO] = "auto", [RL_RDZV_PMIX] = "pmix", [RL_RDZV_SLURM] = "slurm",
		[RL_RDZV_TCP] = "tcp", [RL_RDZV_SINGLE] = "single",
	};
	return names[kind];
}

int rl_endpoint_parse(const char *s, int default_port, char *host, size_t hostlen, int *port)
{
	const char *colon;
	size_t len;
	long p = default_port;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1)
			return -EINVAL;
		len = (size_t)(close - s - 1);
		if (len >= hostlen)
			return -EINVAL;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		if (close[1] == ':') {
			if (rl_parse_long(close + 2, 1, 65535, &p) < 0)
				return -EINVAL;
		} else if (close[1]) {
			return -EINVAL;
		}
		*port = (int)p;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		return -EINVAL; /* a bare IPv6 address needs brackets */
	len = colon ? (size_t)(colon - s) : strlen(s);
	if (len == 0 || len >= hostlen)
		return -EINVAL;
	if (colon && rl_parse_long(colon + 1, 1, 65535, &p) < 0)
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	*port = (int)p;
	return 0;
}

static const char *first_env(char *const *envp, const char *a, const char *b)
{
	const char *v = rl_env_lookup(envp, a);
	return v ? v : b ? rl_env_lookup(envp, b) : NULL;
}

static int env_number(char *const *envp, const char *name, const char *alt, long min, long *out,
		      char *err, size_t errlen)
{
	const char *v = first_env(envp, name, alt);

	if (!v) {
		rl_errbuf(err, errlen, "%s is not set; is this a Slurm job step (srun)?", name);
		return -EINVAL;
	}
	if (rl_parse_long(v, min, 10000000, out) < 0) {
		rl_errbuf(err, errlen, "%s='%s' is not a valid number", name, v);
		return -EINVAL;
	}
	return 0;
}

static int resolve_slurm(struct rl_bootstrap *b, const struct rl_options *o, char *const *envp,
			 char *err, size_t errlen)
{
	long procid, nnodes, ntasks, jobid = 0, stepid = 0;
	const char *list = first_env(envp, "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST");
	struct rl_strv hosts;
	char why[256];
	int rc;

	if (env_number(envp, "SLURM_PROCID", NULL, 0, &procid, err, errlen) < 0 ||
	    env_number(envp, "SLURM_STEP_NUM_NODES", "SLURM_NNODES", 1, &nnodes, err, errlen) < 0 ||
	    env_number(envp, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", 1, &ntasks, err, errlen) < 0)
		return -EINVAL;
	if (ntasks != nnodes) {
		rl_errbuf(err, errlen, "srun started %ld rlaunch tasks on %ld nodes; rlaunch starts the "
			  "ranks itself and needs exactly one per node: use srun --ntasks-per-node=1",
			  ntasks, nnodes);
		return -EINVAL;
	}
	if (o->nodes_given && o->nodes != nnodes) {
		rl_errbuf(err, errlen, "--nodes %d does not match the %ld nodes of this Slurm step",
			  o->nodes, nnodes);
		return -EINVAL;
	}
	if (!list) {
		rl_errbuf(err, errlen, "SLURM_STEP_NODELIST is not set; is this a Slurm job step (srun)?");
		return -EINVAL;
	}
	rc = rl_hostlist_expand(list, 1000000, &hosts, why, sizeof(why));
	if (rc < 0) {
		rl_errbuf(err, errlen, "SLURM_STEP_NODELIST='%.100s': %s", list, why);
		rl_strv_release(&hosts);
		return -EINVAL;
	}
	snprintf(b->host, sizeof(b->host), "%s", hosts.v[0]);
	rl_strv_release(&hosts);
	b->kind = RL_RDZV_SLURM;
	b->nodes = (int)nnodes;
	/* the agent on the first node of the list serves, since that is where the
	 * others look; SLURM_PROCID 0 is usually there, but not with -m arbitrary */
	{
		const char *me = rl_env_lookup(envp, "SLURMD_NODENAME");
		b->serve = me ? strcmp(me, b->host) == 0 : procid == 0;
	}
	{
		const char *j = rl_env_lookup(envp, "SLURM_JOB_ID");
		const char *s = rl_env_lookup(envp, "SLURM_STEP_ID");
		if (j && rl_parse_long(j, 0, 0x7fffffffL, &jobid) < 0)
			jobid = 0;
		if (!s || rl_parse_long(s, 0, 0x7fffffffL, &stepid) < 0)
			stepid = 0;
	}
	/* two steps of one job at once get different ports */
	b->port = RL_DEFAULT_RDZV_PORT + (int)((jobid * 7 + stepid) % 1000);
	if (o->rdzv_endpoint) {
		char ignored[256];
		if (rl_endpoint_parse(o->rdzv_endpoint, b->port, ignored, sizeof(ignored), &b->port) < 0) {
			rl_errbuf(err, errlen, "invalid --rdzv-endpoint '%s': expected HOST:PORT",
				  o->rdzv_endpoint);
			return -EINVAL;
		}
	}
	return 0;
}

static int resolve_tcp(struct rl_bootstrap *b, const struct rl_options *o, char *err, size_t errlen)
{
	if (!o->rdzv_endpoint) {
		rl_errbuf(err, errlen, "--rdzv tcp needs --rdzv-endpoint HOST:PORT");
		return -EINVAL;
	}
	if (rl_endpoint_parse(o->rdzv_endpoint, RL_DEFAULT_RDZV_PORT, b->host, sizeof(b->host),
			      &b->port) < 0) {
		rl_errbuf(err, errlen, "invalid --rdzv-endpoint '%s': expected HOST:PORT", o->rdzv_endpoint);
		return -EINVAL;
	}
	b->kind = RL_RDZV_TCP;
	b->nodes = o->nodes;
	b->try_serve = true;
	return 0;
}

static int resolve_pmix(struct rl_bootstrap *b, char *const *envp, char *err, size_t errlen)
{
	long rank;
	const char *r = rl_env_lookup(envp, "PMIX_RANK");

	if (!r || !rl_env_lookup(envp, "PMIX_NAMESPACE")) {
		rl_errbuf(err, errlen, "--rdzv pmix: PMIX_RANK / PMIX_NAMESPACE are not set; start "
			  "rlaunch with srun --mpi=pmix or mpirun");
		return -EINVAL;
	}
	if (rl_parse_long(r, 0, 10000000, &rank) < 0) {
		rl_errbuf(err, errlen, "PMIX_RANK='%s' is not a valid number", r);
		return -EINVAL;
	}
	b->kind = RL_RDZV_PMIX;
	b->pmix_rank = (int)rank;
	b->nodes = 0; /* the job size comes from PMIx itself */
	return 0;
}

int rl_bootstrap_resolve(struct rl_bootstrap *b, const struct rl_options *o, char *const *envp,
			 char *err, size_t errlen)
{
	enum rl_rdzv_kind kind = o->rdzv;

	memset(b, 0, sizeof(*b));
	b->kind = RL_RDZV_SINGLE;
	b->nodes = 1;
	if (kind == RL_RDZV_AUTO) {
		if (rl_env_lookup(envp, "PMIX_RANK") && rl_env_lookup(envp, "PMIX_NAMESPACE"))
			kind = RL_RDZV_PMIX;
		else if (rl_env_lookup(envp, "SLURM_PROCID") &&
			 first_env(envp, "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"))
			kind = RL_RDZV_SLURM;
		else if (o->rdzv_endpoint)
			kind = RL_RDZV_TCP;
		else
			kind = RL_RDZV_SINGLE;
	}
	switch (kind) {
	case RL_RDZV_PMIX:
		return resolve_pmix(b, envp, err, errlen);
	case RL_RDZV_SLURM:
		return resolve_slurm(b, o, envp, err, errlen);
	case RL_RDZV_TCP:
		return resolve_tcp(b, o, err, errlen);
	default:
		if (o->nodes != 1) {
			rl_errbuf(err, errlen, "--nodes %d needs a rendezvous: run rlaunch under srun "
				  "(Slurm, PMIx) or mpirun, or give --rdzv-endpoint HOST:PORT", o->nodes);
			return -EINVAL;
		}
		return 0;
	}
}
