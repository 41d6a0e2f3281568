#include "rlaunch/pmix_boot.h"

#include <dlfcn.h>
#include <errno.h>
#include <pmix.h>
#include <pthread.h>
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
	pmix_status_t (*fence_nb)(const pmix_proc_t[], size_t, const pmix_info_t[], size_t,
				  pmix_op_cbfunc_t, void *);
	pmix_status_t (*get)(const pmix_proc_t *, const char[], const pmix_info_t[], size_t,
			     pmix_value_t **);
	const char *(*error_string)(pmix_status_t);
	void (*value_destruct)(pmix_value_t *);
};

static struct pmix_api api;
static bool initialised;
/* a fence left behind by a timeout: PMIx_Finalize would wait on it */
static bool fence_abandoned;

/* The fence's completion, signalled from PMIx's progress thread. Static, so
 * that a callback arriving after a timeout still finds it. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	pmix_status_t status;
} fence = { .lock = PTHREAD_MUTEX_INITIALIZER };

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
	LOAD(fence_nb, "PMIx_Fence_nb");
	LOAD(get, "PMIx_Get");
	LOAD(error_string, "PMIx_Error_string");
	LOAD(value_destruct, "PMIx_Value_destruct");
#undef LOAD
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

static void fence_done(pmix_status_t status, void *cbdata)
{
	(void)cbdata;
	pthread_mutex_lock(&fence.lock);
	fence.status = status;
	fence.done = true;
	pthread_cond_signal(&fence.done_cv);
	pthread_mutex_unlock(&fence.lock);
}

/* Test hook: RLAUNCH_TEST_PMIX_FENCE_DELAY=RANK:SECONDS makes that PMIx rank
 * pause before the fence, so that tests can hit an agent in this stage. */
static void test_fence_delay(pmix_rank_t rank)
{
	const char *v = getenv("RLAUNCH_TEST_PMIX_FENCE_DELAY");
	unsigned r, sec;

	if (v && sscanf(v, "%u:%u", &r, &sec) == 2 && r == rank) {
		rl_log("test hook: PMIx rank %u pauses %u s before the fence", r, sec);
		sleep(sec);
	}
}

/* PMIx_Fence with data collection, bounded: a peer that died, hangs or lost
 * its network before reaching the fence would otherwise block this agent for
 * as long as the resource manager's own collective timeout (Slurm: 300 s). */
static int fence_bounded(const pmix_proc_t *me, double timeout_s, char *err, size_t errlen)
{
	pmix_info_t collect;
	pmix_status_t rc;
	struct timespec deadline;
	pthread_condattr_t attr;
	int wait_rc = 0;

	memset(&collect, 0, sizeof(collect));
	snprintf(collect.key, sizeof(collect.key), "%s", PMIX_COLLECT_DATA);
	collect.value.type = PMIX_BOOL;
	collect.value.data.flag = true;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fence.done_cv, &attr);
	pthread_condattr_destroy(&attr);
	fence.done = false;

	test_fence_delay(me->rank);
	rc = api.fence_nb(NULL, 0, &collect, 1, fence_done, NULL);
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Fence", rc, err, errlen);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fence.lock);
	while (!fence.done && wait_rc != ETIMEDOUT)
		wait_rc = pthread_cond_timedwait(&fence.done_cv, &fence.lock, &deadline);
	rc = fence.status;
	bool done = fence.done;
	pthread_mutex_unlock(&fence.lock);
	if (!done) {
		fence_abandoned = true;
		rl_errbuf(err, errlen,
			  "--rdzv pmix: the PMIx fence of job %s did not complete within %.0f s "
			  "(--rdzv-timeout): an agent of this step died, hangs or cannot reach "
			  "its peers before it (this is PMIx rank %u of the step; srun's own "
			  "messages name the task)",
			  me->nspace, timeout_s, (unsigned)me->rank);
		return -ETIMEDOUT;
	}
	return rc == PMIX_SUCCESS ? 0 : failed("PMIx_Fence", rc, err, errlen);
}

int rl_pmix_exchange(const struct rl_node_info *self, struct rl_secret *secret, double timeout_s,
		     struct rl_pmix_result *out, char *err, size_t errlen)
{
	pmix_proc_t me, who;
	pmix_value_t *val = NULL, v;
	pmix_status_t rc;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = api_open(err, errlen)) < 0)
		return ret;
	rc = api.init(&me, NULL, 0);
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Init", rc, err, errlen);
	initialised = true;
	out->rank = (int)me.rank;

	memset(&who, 0, sizeof(who));
	memcpy(who.nspace, me.nspace, sizeof(who.nspace));
	who.rank = PMIX_RANK_WILDCARD;
	rc = api.get(&who, PMIX_JOB_SIZE, NULL, 0, &val);
	if (rc != PMIX_SUCCESS || !val || val->type != PMIX_UINT32 || val->data.uint32 == 0 ||
	    val->data.uint32 > RL_MAX_NODES) {
		value_free(val);
		return failed("PMIx_Get(job size)", rc, err, errlen);
	}
	out->count = val->data.uint32;
	value_free(val);

	if ((ret = put_node(self, err, errlen)) < 0)
		return ret;
	if (secret->len == 0 && me.rank == 0) {
		rl_secret_generate(secret);
		memset(&v, 0, sizeof(v));
		v.type = PMIX_STRING;
		v.data.string = (char *)secret->key;
		secret->key[secret->len] = '\0';
		rc = api.put(PMIX_GLOBAL, KEY_SECRET, &v);
		if (rc != PMIX_SUCCESS)
			return failed("PMIx_Put(secret)", rc, err, errlen);
	}
	rc = api.commit();
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Commit", rc, err, errlen);

	if ((ret = fence_bounded(&me, timeout_s, err, errlen)) < 0)
		return ret;

	out->nodes = calloc(out->count, sizeof(*out->nodes));
	if (!out->nodes)
		return -ENOMEM;
	for (size_t r = 0; r < out->count; r++) {
		who.rank = (pmix_rank_t)r;
		val = NULL;
		rc = api.get(&who, KEY_NODE, NULL, 0, &val);
		if (rc != PMIX_SUCCESS || !val || val->type != PMIX_BYTE_OBJECT ||
		    rl_wire_get_join((const uint8_t *)val->data.bo.bytes, val->data.bo.size,
				     &out->nodes[r]) < 0) {
			value_free(val);
			rl_errbuf(err, errlen, "--rdzv pmix: no valid node info from PMIx rank %zu", r);
			return -EIO;
		}
		value_free(val);
	}
	if (secret->len == 0) {
		who.rank = 0;
		val = NULL;
		rc = api.get(&who, KEY_SECRET, NULL, 0, &val);
		if (rc != PMIX_SUCCESS || !val || val->type != PMIX_STRING || !val->data.string ||
		    !*val->data.string || strlen(val->data.string) >= RL_SECRET_MAX) {
			value_free(val);
			rl_errbuf(err, errlen, "--rdzv pmix: no job secret from PMIx rank 0");
			return -EIO;
		}
		secret->len = strlen(val->data.string);
		memcpy(secret->key, val->data.string, secret->len);
		secret->source = "PMIx";
		value_free(val);
	}
	return 0;
}

void rl_pmix_finalize(void)
{
	if (initialised && !fence_abandoned)
		api.finalize(NULL, 0);
	initialised = false;
	/* libpmix stays loaded: it keeps threads and state past finalize, and
	 * leak reports can then name it */
}
