#include "rlaunch/pmix_boot.h"

#include <dlfcn.h>
#include <errno.h>
#include <pmix.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlaunch/dlopen_first.h"
#include "rlaunch/log.h"
#include "rlaunch/wire.h"

#define KEY_NODE "rlaunch.node"
#define KEY_SECRET "rlaunch.secret"

/* The calls rlaunch makes; types come from the PMIx headers, code from the
 * library found at run time. */
struct pmix_api {
	void *lib;
	pmix_status_t (*init)(pmix_proc_t *, pmix_info_t[], size_t);
	pmix_status_t (*finalize)(const pmix_info_t[], size_t);
	pmix_status_t (*put)(pmix_scope_t, const char[], pmix_value_t *);
	pmix_status_t (*commit)(void);
	pmix_status_t (*fence)(const pmix_proc_t[], size_t, const pmix_info_t[], size_t);
	pmix_status_t (*get)(const pmix_proc_t *, const char[], const pmix_info_t[], size_t,
			     pmix_value_t **);
	const char *(*error_string)(pmix_status_t);
	void (*value_destruct)(pmix_value_t *);
	/* optional: naming the agents that never published, after a timeout */
	pmix_status_t (*get_nb)(const pmix_proc_t *, const char[], const pmix_info_t[], size_t,
				pmix_value_cbfunc_t, void *);
	pmix_status_t (*resolve_nodes)(const pmix_nspace_t, char **);
	pmix_status_t (*resolve_peers)(const char *, const pmix_nspace_t, pmix_proc_t **, size_t *);
};

static struct pmix_api api;
static bool initialised;
/* an exchange left behind by the watchdog: PMIx_Finalize would wait on it */
static bool abandoned;

static int api_open(char *err, size_t errlen)
{
	static const char *const sonames[] = { "libpmix.so.2", "libpmix.so" };

	memset(&api, 0, sizeof(api));
	api.lib = rl_dlopen_first(sonames, sizeof(sonames) / sizeof(sonames[0]), RTLD_NOW | RTLD_GLOBAL);
	if (!api.lib) {
		rl_errbuf(err, errlen, "--rdzv pmix: cannot load libpmix.so.2 (%s); install PMIx "
			  "(Debian: libpmix2) or use --rdzv slurm / tcp", dlerror());
		return -ENOENT;
	}
#define LOAD(field, name) \
	if (!(*(void **)&api.field = dlsym(api.lib, name))) goto teardown
	LOAD(init, "PMIx_Init");
	LOAD(finalize, "PMIx_Finalize");
	LOAD(put, "PMIx_Put");
	LOAD(commit, "PMIx_Commit");
	LOAD(fence, "PMIx_Fence");
	LOAD(get, "PMIx_Get");
	LOAD(error_string, "PMIx_Error_string");
	LOAD(value_destruct, "PMIx_Value_destruct");
#undef LOAD
	*(void **)&api.get_nb = dlsym(api.lib, "PMIx_Get_nb");
	*(void **)&api.resolve_nodes = dlsym(api.lib, "PMIx_Resolve_nodes");
	*(void **)&api.resolve_peers = dlsym(api.lib, "PMIx_Resolve_peers");
	return 0;
teardown:
	rl_errbuf(err, errlen, "--rdzv pmix: the PMIx library lacks a needed symbol: %s", dlerror());
	dlclose(api.lib);
	memset(&api, 0, sizeof(api));
	return -ENOENT;
}

static void value_free(pmix_value_t *v)
{
	if (!v)
		return;
	api.value_destruct(v);
	free(v);
}

static int failed(const char *what, pmix_status_t rc, char *err, size_t errlen)
{
	rl_errbuf(err, errlen, "--rdzv pmix: %s failed: %s", what, api.error_string(rc));
	return -EIO;
}

/* The node info as a JOIN frame's payload: the same bounds-checked codec. */
static int put_node(const struct rl_node_info *self, char *err, size_t errlen)
{
	struct rl_wbuf w;
	pmix_value_t v;
	pmix_status_t rc;

	rl_wbuf_init(&w);
	rl_wire_put_join(&w, self);
	if (w.err) {
		rl_wbuf_release(&w);
		return -ENOMEM;
	}
	memset(&v, 0, sizeof(v));
	v.type = PMIX_BYTE_OBJECT;
	v.data.bo.bytes = (char *)w.data + RL_WIRE_HEADER;
	v.data.bo.size = w.len - RL_WIRE_HEADER;
	rc = api.put(PMIX_GLOBAL, KEY_NODE, &v);
	rl_wbuf_release(&w);
	return rc == PMIX_SUCCESS ? 0 : failed("PMIx_Put", rc, err, errlen);
}

/* Test hook: RLAUNCH_TEST_PMIX_DELAY=RANK:SECONDS makes that PMIx rank
 * pause after PMIx_Init, before it publishes its node info and enters the
 * fence, so that tests can hit an agent in this stage. */
static void test_delay(pmix_rank_t rank)
{
	const char *v = getenv("RLAUNCH_TEST_PMIX_DELAY");
	unsigned r, sec;

	if (v && sscanf(v, "%u:%u", &r, &sec) == 2 && r == rank) {
		rl_log("test hook: PMIx rank %u pauses %u s before publishing its node info", r, sec);
		sleep(sec);
	}
}

/* ---- after a fence timeout: who never published? ------------------------------ */

#define PROBE_WAIT_S 2
#define PROBE_LISTED 8

/* One asynchronous Get per peer; static, and never freed once handed to
 * PMIx, so that a late callback still finds its slot. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	size_t pending;
} probes = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct probe {
	bool done;
	pmix_status_t status;
};

static void probe_done(pmix_status_t status, pmix_value_t *kv, void *cbdata)
{
	struct probe *p = cbdata;
	(void)kv;
	pthread_mutex_lock(&probes.lock);
	p->status = status;
	p->done = true;
	probes.pending--;
	pthread_cond_signal(&probes.cv);
	pthread_mutex_unlock(&probes.lock);
}

/* hosts[rank], from the job's node list (job-level data, no peer needed) */
static char **rank_hosts(const pmix_proc_t *me, size_t count)
{
	char *nodes = NULL, *save = NULL, **hosts;

	if (!api.resolve_nodes || !api.resolve_peers ||
	    api.resolve_nodes(me->nspace, &nodes) != PMIX_SUCCESS || !nodes)
		return NULL;
	hosts = calloc(count, sizeof(*hosts));
	for (char *node = strtok_r(nodes, ",", &save); hosts && node;
	     node = strtok_r(NULL, ",", &save)) {
		pmix_proc_t *procs = NULL;
		size_t n = 0;
		if (api.resolve_peers(node, me->nspace, &procs, &n) != PMIX_SUCCESS || !procs)
			continue;
		for (size_t i = 0; i < n; i++)
			if (procs[i].rank < count && !hosts[procs[i].rank])
				hosts[procs[i].rank] = strdup(node);
		free(procs);
	}
	free(nodes);
	return hosts;
}

/* After the fence timed out: ask for every peer's node info (the server
 * fetches it from the peer's node), PROBE_WAIT_S at most, and name in out
 * the agents that never published theirs, e.g. "PMIx rank 1 (n2)". Empty
 * when every peer answered or PMIx cannot tell. */
static void name_missing(const pmix_proc_t *me, size_t count, char *out, size_t outlen)
{
	struct probe *p;
	struct timespec deadline;
	pmix_info_t wait;
	char **hosts;
	size_t missing = 0, len = 0;

	out[0] = '\0';
	if (!api.get_nb || count < 2 || !(p = calloc(count, sizeof(*p))))
		return;
	memset(&wait, 0, sizeof(wait));
	snprintf(wait.key, sizeof(wait.key), "%s", PMIX_TIMEOUT);
	wait.value.type = PMIX_INT;
	wait.value.data.integer = PROBE_WAIT_S;
	pthread_cond_init(&probes.cv, NULL);
	for (size_t r = 0; r < count; r++) {
		pmix_proc_t who = *me;
		if (r == me->rank)
			continue;
		who.rank = (pmix_rank_t)r;
		pthread_mutex_lock(&probes.lock);
		probes.pending++;
		pthread_mutex_unlock(&probes.lock);
		if (api.get_nb(&who, KEY_NODE, &wait, 1, probe_done, &p[r]) != PMIX_SUCCESS) {
			pthread_mutex_lock(&probes.lock);
			probes.pending--;
			p[r].done = true;
			p[r].status = PMIX_ERROR;
			pthread_mutex_unlock(&probes.lock);
		}
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PROBE_WAIT_S;
	pthread_mutex_lock(&probes.lock);
	while (probes.pending > 0 &&
	       pthread_cond_timedwait(&probes.cv, &probes.lock, &deadline) != ETIMEDOUT)
		;
	hosts = rank_hosts(me, count);
	for (size_t r = 0; r < count; r++) {
		if (r == me->rank || (p[r].done && p[r].status == PMIX_SUCCESS))
			continue;
		if (missing++ < PROBE_LISTED && len < outlen) {
			int n = snprintf(out + len, outlen - len, "%s%zu%s%s%s", len ? ", " : "", r,
					 hosts && hosts[r] ? " (" : "", hosts && hosts[r] ? hosts[r] : "",
					 hosts && hosts[r] ? ")" : "");
			len += n > 0 ? (size_t)n : 0;
		}
	}
	bool all_back = probes.pending == 0;
	pthread_mutex_unlock(&probes.lock);
	if (missing > PROBE_LISTED && len < outlen)
		snprintf(out + len, outlen - len, " and %zu more", missing - PROBE_LISTED);
	for (size_t r = 0; hosts && r < count; r++)
		free(hosts[r]);
	free(hosts);
	if (all_back)
		free(p); /* otherwise it stays: a late callback still writes to it */
}

/* The exchange, run on a thread of its own (see rl_pmix_exchange): every
 * PMIx call can block while the PMIx server waits on a peer node. It works
 * on its own copies; the watchdog takes the results only once it is done. */
struct exchange {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool done;
	int ret;
	char err[512];
	struct rl_node_info self;
	struct rl_secret secret;
	struct rl_pmix_result res;
	bool have_me;           /* PMIx_Init returned: me and res.count are known */
	pmix_proc_t me;
};

static int exchange_steps(struct exchange *x)
{
	pmix_proc_t me, who;
	pmix_value_t *val = NULL, v;
	pmix_info_t collect;
	pmix_status_t rc;
	char *err = x->err;
	size_t errlen = sizeof(x->err);
	int ret;

	rc = api.init(&me, NULL, 0);
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Init", rc, err, errlen);
	initialised = true;
	x->res.rank = (int)me.rank;

	memset(&who, 0, sizeof(who));
	memcpy(who.nspace, me.nspace, sizeof(who.nspace));
	who.rank = PMIX_RANK_WILDCARD;
	rc = api.get(&who, PMIX_JOB_SIZE, NULL, 0, &val);
	if (rc != PMIX_SUCCESS || !val || val->type != PMIX_UINT32 || val->data.uint32 == 0 ||
	    val->data.uint32 > RL_MAX_NODES) {
		value_free(val);
		return failed("PMIx_Get(job size)", rc, err, errlen);
	}
	pthread_mutex_lock(&x->lock);
	x->res.count = val->data.uint32;
	x->me = me;
	x->have_me = true;
	pthread_mutex_unlock(&x->lock);
	value_free(val);

	test_delay(me.rank);
	if ((ret = put_node(&x->self, err, errlen)) < 0)
		return ret;
	if (x->secret.len == 0 && me.rank == 0) {
		rl_secret_generate(&x->secret);
		memset(&v, 0, sizeof(v));
		v.type = PMIX_STRING;
		v.data.string = (char *)x->secret.key;
		x->secret.key[x->secret.len] = '\0';
		rc = api.put(PMIX_GLOBAL, KEY_SECRET, &v);
		if (rc != PMIX_SUCCESS)
			return failed("PMIx_Put(secret)", rc, err, errlen);
	}
	rc = api.commit();
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Commit", rc, err, errlen);

	memset(&collect, 0, sizeof(collect));
	snprintf(collect.key, sizeof(collect.key), "%s", PMIX_COLLECT_DATA);
	collect.value.type = PMIX_BOOL;
	collect.value.data.flag = true;
	rc = api.fence(NULL, 0, &collect, 1);
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Fence", rc, err, errlen);

	x->res.nodes = calloc(x->res.count, sizeof(*x->res.nodes));
	if (!x->res.nodes)
		return -ENOMEM;
	for (size_t r = 0; r < x->res.count; r++) {
		who.rank = (pmix_rank_t)r;
		val = NULL;
		rc = api.get(&who, KEY_NODE, NULL, 0, &val);
		if (rc != PMIX_SUCCESS || !val || val->type != PMIX_BYTE_OBJECT ||
		    rl_wire_get_join((const uint8_t *)val->data.bo.bytes, val->data.bo.size,
				     &x->res.nodes[r]) < 0) {
			value_free(val);
			rl_errbuf(err, errlen, "--rdzv pmix: no valid node info from PMIx rank %zu", r);
			return -EIO;
		}
		value_free(val);
	}
	if (x->secret.len == 0) {
		who.rank = 0;
		val = NULL;
		rc = api.get(&who, KEY_SECRET, NULL, 0, &val);
		if (rc != PMIX_SUCCESS || !val || val->type != PMIX_STRING || !val->data.string ||
		    !*val->data.string || strlen(val->data.string) >= RL_SECRET_MAX) {
			value_free(val);
			rl_errbuf(err, errlen, "--rdzv pmix: no job secret from PMIx rank 0");
			return -EIO;
		}
		x->secret.len = strlen(val->data.string);
		memcpy(x->secret.key, val->data.string, x->secret.len);
		x->secret.source = "PMIx";
		value_free(val);
	}
	return 0;
}

static void *exchange_main(void *arg)
{
	struct exchange *x = arg;
	int ret = exchange_steps(x);

	pthread_mutex_lock(&x->lock);
	x->ret = ret;
	x->done = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* The watchdog's message: which step hung, and who is missing. */
static void timed_out(struct exchange *x, double timeout_s, char *err, size_t errlen)
{
	char missing[256];
	pmix_proc_t me;
	size_t count;

	pthread_mutex_lock(&x->lock);
	bool have_me = x->have_me;
	me = x->me;
	count = x->res.count;
	pthread_mutex_unlock(&x->lock);
	if (!have_me) {
		rl_errbuf(err, errlen,
			  "--rdzv pmix: PMIx_Init did not complete within %.0f s (--rdzv-timeout): "
			  "the PMIx server of this node (srun's slurmstepd) does not answer",
			  timeout_s);
		return;
	}
	name_missing(&me, count, missing, sizeof(missing));
	if (missing[0])
		rl_errbuf(err, errlen,
			  "--rdzv pmix: the PMIx exchange of job %s did not complete within %.0f s "
			  "(--rdzv-timeout): no node info from the agent%s of PMIx rank %s: it "
			  "died, hangs or cannot be reached (this is PMIx rank %u)",
			  me.nspace, timeout_s, strchr(missing, ',') ? "s" : "", missing,
			  (unsigned)me.rank);
	else
		rl_errbuf(err, errlen,
			  "--rdzv pmix: the PMIx exchange of job %s did not complete within %.0f s "
			  "(--rdzv-timeout): an agent of this step died, hangs or cannot reach its "
			  "peers before the fence (this is PMIx rank %u; srun's own messages name "
			  "the task)",
			  me.nspace, timeout_s, (unsigned)me.rank);
}

int rl_pmix_exchange(const struct rl_node_info *self, struct rl_secret *secret, double timeout_s,
		     struct rl_pmix_result *out, char *err, size_t errlen)
{
	struct exchange *x;
	struct timespec deadline;
	pthread_condattr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int ret, wait_rc = 0;

	memset(out, 0, sizeof(*out));
	if ((ret = api_open(err, errlen)) < 0)
		return ret;
	/* on the heap, and left there if the exchange is abandoned */
	if (!(x = calloc(1, sizeof(*x))))
		return -ENOMEM;
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv, &attr);
	pthread_condattr_destroy(&attr);
	x->self = *self;
	x->secret = *secret;

	sigfillset(&all); /* signals stay with the main thread */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&thread, NULL, exchange_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		free(x);
		rl_errbuf(err, errlen, "--rdzv pmix: cannot start a thread: %s", strerror(ret));
		return -ret;
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&x->lock);
	while (!x->done && wait_rc != ETIMEDOUT)
		wait_rc = pthread_cond_timedwait(&x->cv, &x->lock, &deadline);
	bool done = x->done;
	pthread_mutex_unlock(&x->lock);

	if (!done) {
		abandoned = true;
		pthread_detach(thread);
		timed_out(x, timeout_s, err, errlen);
		return -ETIMEDOUT; /* x stays: the thread may still use it */
	}
	pthread_join(thread, NULL);
	ret = x->ret;
	if (ret < 0) {
		rl_errbuf(err, errlen, "%s", x->err);
		free(x->res.nodes);
	} else {
		*out = x->res;
		*secret = x->secret;
	}
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->lock);
	free(x);
	return ret;
}

void rl_pmix_finalize(void)
{
	if (initialised && !abandoned)
		api.finalize(NULL, 0);
	initialised = false;
	/* libpmix stays loaded: it keeps threads and state past finalize, and
	 * leak reports can then name it */
}
