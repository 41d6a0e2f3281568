#include "rlaunch/ofi_allreduce.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rlaunch/log.h"

/* Messages are cut into segments no larger than this (and the provider's max). */
#define SEGMENT_MAX (4u << 20)

/* The library's entry points; everything else in libfabric goes through
 * the ops tables of the objects these return. */
struct ofi_api {
	void *lib;
	int (*getinfo)(uint32_t, const char *, const char *, uint64_t, const struct fi_info *,
		       struct fi_info **);
	void (*freeinfo)(struct fi_info *);
	struct fi_info *(*dupinfo)(const struct fi_info *);
	int (*fabric)(struct fi_fabric_attr *, struct fid_fabric **, void *);
	const char *(*strerror)(int);
};

struct rl_ofi {
	struct ofi_api api;
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_ep *ep;
	struct fid_av *av;
	struct fid_cq *cq;
	fi_addr_t *peers;
	int npeers;
	bool mr_local;          /* the provider wants registered local buffers */
	size_t max_msg;
	struct fi_context *ctx; /* operation contexts, see contexts() */
	size_t nctx;
	float *tmp;             /* receive buffer, kept as long as the endpoint */
	size_t ntmp;
	char provider[64];
};

static int api_open(struct ofi_api *api, char *err, size_t errlen)
{
	memset(api, 0, sizeof(*api));
	api->lib = dlopen("libfabric.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!api->lib) {
		rl_errbuf(err, errlen, "cannot load libfabric.so.1 (%s): install libfabric "
			  "(Debian: libfabric1; AWS: the EFA installer)", dlerror());
		return -ENOENT;
	}
#define LOAD(field, name) \
	if (!(*(void **)&api->field = dlsym(api->lib, name))) goto teardown
	LOAD(getinfo, "fi_getinfo");
	LOAD(freeinfo, "fi_freeinfo");
	LOAD(dupinfo, "fi_dupinfo");
	LOAD(fabric, "fi_fabric");
	LOAD(strerror, "fi_strerror");
#undef LOAD
	return 0;
teardown:
	rl_errbuf(err, errlen, "libfabric.so.1 lacks %s", dlerror());
	memset(api, 0, sizeof(*api));
	return -ENOENT;
}

static int fail(struct rl_ofi *o, const char *what, int rc, char *err, size_t errlen)
{
	rl_errbuf(err, errlen, "libfabric %s failed: %s", what, o->api.strerror(-rc));
	return rc < 0 ? rc : -EIO;
}

/* RDM endpoints with tagged messages, on provider (tcp needs the rxm utility
 * provider on top with libfabric < 1.18). */
static int find_info(struct rl_ofi *o, const char *provider, const char *node, char *err,
		     size_t errlen)
{
	const char *names[2] = { provider, NULL };
	char layered[64];
	int rc = -FI_ENODATA;

	if (provider && strcmp(provider, "tcp") == 0) {
		snprintf(layered, sizeof(layered), "tcp;ofi_rxm");
		names[1] = layered;
	}
	for (int i = 0; i < 2 && rc; i++) {
		struct fi_info *hints = o->api.dupinfo(NULL);

		if (i == 1 && !names[1])
			break;
		if (!hints)
			return -ENOMEM;
		hints->caps = FI_TAGGED | FI_MSG;
		hints->ep_attr->type = FI_EP_RDM;
		hints->mode = FI_CONTEXT;
		hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
					      FI_MR_VIRT_ADDR;
		hints->domain_attr->threading = FI_THREAD_DOMAIN;
		if (names[i])
			hints->fabric_attr->prov_name = strdup(names[i]);
		rc = o->api.getinfo(FI_VERSION(1, 9), node, NULL, node ? FI_SOURCE : 0, hints, &o->info);
		o->api.freeinfo(hints);
	}
	if (rc) {
		rl_errbuf(err, errlen, "no libfabric provider%s%s offers RDM endpoints with tagged "
			  "messages here: %s", provider ? " '" : "", provider ? provider : "",
			  o->api.strerror(-rc));
		return -ENODEV;
	}
	return 0;
}

int rl_ofi_open(struct rl_ofi **out, const char *provider, const char *node, char *err,
		size_t errlen)
{
	struct rl_ofi *o = calloc(1, sizeof(*o));
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .size = 1024 };
	struct fi_av_attr av_attr = { .type = FI_AV_TABLE };
	int rc;

	if (!o)
		return -ENOMEM;
	*out = o;
	if ((rc = api_open(&o->api, err, errlen)) < 0)
		return rc;
	/* shared memory has no network address to bind to */
	if (provider && strcmp(provider, "shm") == 0)
		node = NULL;
	if ((rc = find_info(o, provider, node, err, errlen)) < 0)
		return rc;
	snprintf(o->provider, sizeof(o->provider), "%s", o->info->fabric_attr->prov_name);
	o->mr_local = (o->info->domain_attr->mr_mode & FI_MR_LOCAL) != 0;
	o->max_msg = o->info->ep_attr->max_msg_size;
	if ((rc = o->api.fabric(o->info->fabric_attr, &o->fabric, NULL)))
		return fail(o, "fi_fabric", rc, err, errlen);
	if ((rc = fi_domain(o->fabric, o->info, &o->domain, NULL)))
		return fail(o, "fi_domain", rc, err, errlen);
	if ((rc = fi_cq_open(o->domain, &cq_attr, &o->cq, NULL)))
		return fail(o, "fi_cq_open", rc, err, errlen);
	if ((rc = fi_av_open(o->domain, &av_attr, &o->av, NULL)))
		return fail(o, "fi_av_open", rc, err, errlen);
	if ((rc = fi_endpoint(o->domain, o->info, &o->ep, NULL)))
		return fail(o, "fi_endpoint", rc, err, errlen);
	if ((rc = fi_ep_bind(o->ep, &o->cq->fid, FI_SEND | FI_RECV)) ||
	    (rc = fi_ep_bind(o->ep, &o->av->fid, 0)))
		return fail(o, "fi_ep_bind", rc, err, errlen);
	if ((rc = fi_enable(o->ep)))
		return fail(o, "fi_enable", rc, err, errlen);
	return 0;
}

const char *rl_ofi_provider(const struct rl_ofi *o)
{
	return o->provider;
}

int rl_ofi_address(struct rl_ofi *o, uint8_t *addr, size_t *len, char *err, size_t errlen)
{
	size_t n = RL_OFI_ADDR_MAX;
	int rc = fi_getname(&o->ep->fid, addr, &n);

	if (rc)
		return fail(o, "fi_getname", rc, err, errlen);
	*len = n;
	return 0;
}

int rl_ofi_set_peers(struct rl_ofi *o, const uint8_t *addrs, size_t addrlen, int nranks,
		     char *err, size_t errlen)
{
	int rc;

	free(o->peers);
	o->peers = calloc((size_t)nranks, sizeof(*o->peers));
	if (!o->peers)
		return -ENOMEM;
	/* one at a time: addresses are packed with a fixed stride */
	for (int r = 0; r < nranks; r++) {
		rc = fi_av_insert(o->av, addrs + (size_t)r * addrlen, 1, &o->peers[r], 0, NULL);
		if (rc != 1)
			return fail(o, "fi_av_insert", rc < 0 ? rc : -FI_EINVAL, err, errlen);
	}
	o->npeers = nranks;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for `want` completions (sends and receives of one step). */
static int wait_completions(struct rl_ofi *o, int want, double deadline, const char *step,
			    char *err, size_t errlen)
{
	struct fi_cq_tagged_entry entries[16];
	unsigned idle = 0;

	while (want > 0) {
		ssize_t n = fi_cq_read(o->cq, entries, 16);
		if (n > 0) {
			want -= (int)n;
			idle = 0;
			continue;
		}
		if (n == -FI_EAGAIN) {
			if (now_s() > deadline) {
				rl_errbuf(err, errlen, "%s: no progress before the timeout", step);
				return -ETIMEDOUT;
			}
			/* progress is ours to drive, but with more ranks than cores a
			 * spinning rank starves the one it waits for */
			if (++idle > 64)
				sched_yield();
			continue;
		}
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry e = { 0 };
			fi_cq_readerr(o->cq, &e, 0);
			rl_errbuf(err, errlen, "%s: %s", step, o->api.strerror(e.err));
			return -EIO;
		}
		return fail(o, "fi_cq_read", (int)n, err, errlen);
	}
	return 0;
}

/* Post a call that may answer -FI_EAGAIN until the provider has room. */
#define POST(call, what)                                                             \
	do {                                                                         \
		ssize_t r_;                                                          \
		while ((r_ = (call)) == -FI_EAGAIN) {                                \
			struct fi_cq_tagged_entry drain_;                             \
			if (fi_cq_read(o->cq, &drain_, 1) > 0)                        \
				done_early++;                                         \
			if (now_s() > deadline) {                                     \
				rl_errbuf(err, errlen, "%s: provider stayed busy", what); \
				return -ETIMEDOUT;                                    \
			}                                                             \
		}                                                                    \
		if (r_ < 0)                                                          \
			return fail(o, what, (int)r_, err, errlen);                  \
	} while (0)

/* Room for n operation contexts; they live as long as the endpoint, since a
 * failed step may leave operations posted until the endpoint closes. */
static struct fi_context *contexts(struct rl_ofi *o, size_t n)
{
	if (n > o->nctx) {
		struct fi_context *c = realloc(o->ctx, n * sizeof(*c));
		if (!c)
			return NULL;
		o->ctx = c;
		o->nctx = n;
	}
	return o->ctx;
}

/* Send slen floats to the right neighbour and receive rlen from the left
 * (what the left sends in the same step), in segments, until all completed. */
static int exchange(struct rl_ofi *o, fi_addr_t right, fi_addr_t left, const float *send,
		    size_t slen, float *recv, size_t rlen, uint64_t tag, void *sdesc, void *rdesc,
		    double deadline, const char *step, char *err, size_t errlen)
{
	size_t seg = SEGMENT_MAX / sizeof(float);
	int posted = 0, done_early = 0;
	struct fi_context *ctx;
	size_t nsend, nrecv, i;

	if (o->max_msg && seg * sizeof(float) > o->max_msg)
		seg = o->max_msg / sizeof(float);
	if (seg == 0)
		seg = 1;
	nsend = (slen + seg - 1) / seg;
	nrecv = (rlen + seg - 1) / seg;
	ctx = contexts(o, nsend + nrecv + 1);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < nrecv; i++) {
		size_t off = i * seg, len = rlen - off < seg ? rlen - off : seg;
		POST(fi_trecv(o->ep, recv + off, len * sizeof(float), rdesc, left, tag | i, 0,
			      &ctx[i]), "fi_trecv");
		posted++;
	}
	for (i = 0; i < nsend; i++) {
		size_t off = i * seg, len = slen - off < seg ? slen - off : seg;
		POST(fi_tsend(o->ep, send + off, len * sizeof(float), sdesc, right, tag | i,
			      &ctx[nrecv + i]), "fi_tsend");
		posted++;
	}
	return wait_completions(o, posted - done_early, deadline, step, err, errlen);
}

int rl_ofi_allreduce(struct rl_ofi *o, const int *group, int ngroup, int me, float *buf,
		     size_t count, uint32_t tag, double timeout_s, char *err, size_t errlen)
{
	double deadline = now_s() + timeout_s;
	size_t chunk = (count + (size_t)ngroup - 1) / (size_t)ngroup;
	float *tmp;
	struct fid_mr *mr_buf = NULL, *mr_tmp = NULL;
	void *dbuf = NULL, *dtmp = NULL;
	fi_addr_t right, left;
	int rc = 0;

	if (ngroup <= 1)
		return 0;
	/* tag layout: collective tag (bits 40-63, at most 2^24), all-gather (39),
	 * ring step (20-38), segment (0-19) */
	if (ngroup > (1 << 19) || tag >= (1u << 24)) {
		rl_errbuf(err, errlen, "all-reduce: %d ranks or tag %u beyond the tag layout", ngroup, tag);
		return -EINVAL;
	}
	if (me < 0 || me >= ngroup || group[me] >= o->npeers) {
		rl_errbuf(err, errlen, "all-reduce: this rank is not in the group");
		return -EINVAL;
	}
	right = o->peers[group[(me + 1) % ngroup]];
	left = o->peers[group[(me + ngroup - 1) % ngroup]];
	if (chunk + 1 > o->ntmp) {
		float *t = realloc(o->tmp, (chunk + 1) * sizeof(float));
		if (!t)
			return -ENOMEM;
		o->tmp = t;
		o->ntmp = chunk + 1;
	}
	tmp = o->tmp;
	if (o->mr_local) {
		if ((rc = fi_mr_reg(o->domain, buf, count * sizeof(float), FI_SEND | FI_RECV, 0, 0, 0,
				    &mr_buf, NULL)) ||
		    (rc = fi_mr_reg(o->domain, tmp, chunk * sizeof(float), FI_SEND | FI_RECV, 0, 1, 0,
				    &mr_tmp, NULL))) {
			rc = fail(o, "fi_mr_reg", rc, err, errlen);
			goto out;
		}
		dbuf = fi_mr_desc(mr_buf);
		dtmp = fi_mr_desc(mr_tmp);
	}

	/* reduce-scatter: after n-1 steps rank me owns the sum of chunk me+1 */
	for (int s = 0; s < ngroup - 1 && rc == 0; s++) {
		int sc = (me - s + ngroup) % ngroup, rcv = (me - s - 1 + 2 * ngroup) % ngroup;
		size_t soff = (size_t)sc * chunk, roff = (size_t)rcv * chunk;
		size_t slen = soff < count ? (count - soff < chunk ? count - soff : chunk) : 0;
		size_t rlen = roff < count ? (count - roff < chunk ? count - roff : chunk) : 0;
		uint64_t t = ((uint64_t)tag << 40) | ((uint64_t)s << 20);
		char step[64];

		snprintf(step, sizeof(step), "reduce-scatter step %d of %d", s + 1, ngroup - 1);
		/* one tag for both directions of a step: a rank sends and receives with it */
		rc = exchange(o, right, left, buf + soff, slen, tmp, rlen, t, dbuf, dtmp, deadline,
			      step, err, errlen);
		for (size_t i = 0; rc == 0 && i < rlen; i++)
			buf[roff + i] += tmp[i];
	}
	/* all-gather: pass the finished chunks around the ring */
	for (int s = 0; s < ngroup - 1 && rc == 0; s++) {
		int sc = (me + 1 - s + ngroup) % ngroup, rcv = (me - s + ngroup) % ngroup;
		size_t soff = (size_t)sc * chunk, roff = (size_t)rcv * chunk;
		size_t slen = soff < count ? (count - soff < chunk ? count - soff : chunk) : 0;
		size_t rlen = roff < count ? (count - roff < chunk ? count - roff : chunk) : 0;
		uint64_t t = ((uint64_t)tag << 40) | (1ull << 39) | ((uint64_t)s << 20);
		char step[64];

		snprintf(step, sizeof(step), "all-gather step %d of %d", s + 1, ngroup - 1);
		rc = exchange(o, right, left, buf + soff, slen, tmp, rlen, t, dbuf, dtmp, deadline,
			      step, err, errlen);
		if (rc == 0)
			memcpy(buf + roff, tmp, rlen * sizeof(float));
	}
out:
	if (mr_buf)
		fi_close(&mr_buf->fid);
	if (mr_tmp)
		fi_close(&mr_tmp->fid);
	return rc;
}

void rl_ofi_close(struct rl_ofi *o)
{
	if (!o)
		return;
	if (o->ep)
		fi_close(&o->ep->fid);
	if (o->av)
		fi_close(&o->av->fid);
	if (o->cq)
		fi_close(&o->cq->fid);
	if (o->domain)
		fi_close(&o->domain->fid);
	if (o->fabric)
		fi_close(&o->fabric->fid);
	if (o->info)
		o->api.freeinfo(o->info);
	/* libfabric stays loaded: its providers keep global state (and threads)
	 * that a dlclose would pull from under them; the process ends soon */
	free(o->peers);
	free(o->ctx);
	free(o->tmp);
	free(o);
}
