#include "rlaunch/pmix_boot.h"

#include <dlfcn.h>
#include <errno.h>
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static struct pmix_api api;
static bool initialised;

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

int rl_pmix_exchange(const struct rl_node_info *self, struct rl_secret *secret,
		     struct rl_pmix_result *out, char *err, size_t errlen)
{
	pmix_proc_t me, who;
	pmix_value_t *val = NULL, v;
	pmix_info_t collect;
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

	memset(&collect, 0, sizeof(collect));
	snprintf(collect.key, sizeof(collect.key), "%s", PMIX_COLLECT_DATA);
	collect.value.type = PMIX_BOOL;
	collect.value.data.flag = true;
	rc = api.fence(NULL, 0, &collect, 1);
	if (rc != PMIX_SUCCESS)
		return failed("PMIx_Fence", rc, err, errlen);

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
	if (initialised)
		api.finalize(NULL, 0);
	initialised = false;
	/* libpmix stays loaded: it keeps threads and state past finalize, and
	 * leak reports can then name it */
}
