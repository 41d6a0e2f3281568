#include "rlaunch/nccl_allreduce.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rlaunch/dlopen_first.h"
#include "rlaunch/log.h"

/* The ABI rlaunch uses, declared here so that building needs no CUDA: these
 * values are fixed by NCCL 2.x and the CUDA runtime. */
typedef int cuda_err_t;        /* cudaError_t: 0 success, 600 cudaErrorNotReady */
typedef int nccl_res_t;        /* ncclResult_t: 0 success, 7 ncclInProgress */
typedef struct cuda_stream *cuda_stream_t;
typedef struct nccl_comm *nccl_comm_t;
typedef struct { char internal[RL_NCCL_ID_BYTES]; } nccl_id_t;
enum { CUDA_NOT_READY = 600, H2D = 1, D2H = 2, NCCL_FLOAT32 = 7, NCCL_SUM = 0 };

struct cuda_api {
	void *lib;
	cuda_err_t (*get_count)(int *);
	cuda_err_t (*set_device)(int);
	cuda_err_t (*malloc)(void **, size_t);
	cuda_err_t (*free)(void *);
	cuda_err_t (*memcpy)(void *, const void *, size_t, int);
	cuda_err_t (*stream_create)(cuda_stream_t *);
	cuda_err_t (*stream_query)(cuda_stream_t);
	cuda_err_t (*stream_destroy)(cuda_stream_t);
	cuda_err_t (*device_reset)(void);
	const char *(*error_string)(cuda_err_t);
};

struct nccl_api {
	void *lib;
	nccl_res_t (*get_unique_id)(nccl_id_t *);
	nccl_res_t (*init_rank)(nccl_comm_t *, int, nccl_id_t, int);
	nccl_res_t (*split)(nccl_comm_t, int, int, nccl_comm_t *, void *);
	nccl_res_t (*all_reduce)(const void *, void *, size_t, int, int, nccl_comm_t, cuda_stream_t);
	nccl_res_t (*destroy)(nccl_comm_t);
	nccl_res_t (*abort)(nccl_comm_t);
	nccl_res_t (*async_error)(nccl_comm_t, nccl_res_t *);
	const char *(*error_string)(nccl_res_t);
};

struct rl_nccl {
	struct cuda_api cuda;
	struct nccl_api nccl;
	nccl_comm_t world, node;
	cuda_stream_t stream;
	void *dev;
	size_t dev_bytes;
	bool aborted;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define LOAD(api, field, name) \
	if (!(*(void **)&(api)->field = dlsym((api)->lib, name))) goto missing

static int load_cuda(struct cuda_api *c, char *err, size_t errlen)
{
	static const char *const names[] = { "libcudart.so.13", "libcudart.so.12", "libcudart.so" };

	c->lib = rl_dlopen_first(names, sizeof(names) / sizeof(names[0]), RTLD_NOW | RTLD_LOCAL);
	if (!c->lib) {
		rl_errbuf(err, errlen, "cannot load the CUDA runtime (libcudart.so.13/.12): %s", dlerror());
		return -ENOENT;
	}
	LOAD(c, get_count, "cudaGetDeviceCount");
	LOAD(c, set_device, "cudaSetDevice");
	LOAD(c, malloc, "cudaMalloc");
	LOAD(c, free, "cudaFree");
	LOAD(c, memcpy, "cudaMemcpy");
	LOAD(c, stream_create, "cudaStreamCreate");
	LOAD(c, stream_query, "cudaStreamQuery");
	LOAD(c, stream_destroy, "cudaStreamDestroy");
	LOAD(c, device_reset, "cudaDeviceReset");
	LOAD(c, error_string, "cudaGetErrorString");
	return 0;
missing:
	rl_errbuf(err, errlen, "the CUDA runtime lacks %s", dlerror());
	return -ENOENT;
}

static int load_nccl(struct nccl_api *n, const char *path, char *err, size_t errlen)
{
	static const char *const names[] = { "libnccl.so.2", "libnccl.so" };

	n->lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL)
		      : rl_dlopen_first(names, 2, RTLD_NOW | RTLD_LOCAL);
	if (!n->lib) {
		rl_errbuf(err, errlen, "cannot load NCCL (%s): %s", path ? path : "libnccl.so.2",
			  dlerror());
		return -ENOENT;
	}
	LOAD(n, get_unique_id, "ncclGetUniqueId");
	LOAD(n, init_rank, "ncclCommInitRank");
	LOAD(n, split, "ncclCommSplit");
	LOAD(n, all_reduce, "ncclAllReduce");
	LOAD(n, destroy, "ncclCommDestroy");
	LOAD(n, abort, "ncclCommAbort");
	LOAD(n, async_error, "ncclCommGetAsyncError");
	LOAD(n, error_string, "ncclGetErrorString");
	return 0;
missing:
	rl_errbuf(err, errlen, "NCCL lacks %s (ncclCommSplit needs NCCL 2.18 or later)", dlerror());
	return -ENOENT;
}
#undef LOAD

int rl_nccl_open(struct rl_nccl **out, const char *nccl_lib, int device, char *err, size_t errlen)
{
	struct rl_nccl *n = calloc(1, sizeof(*n));
	int count = 0, rc;
	cuda_err_t e;

	*out = n;
	if (!n)
		return -ENOMEM;
	if ((rc = load_cuda(&n->cuda, err, errlen)) < 0 || (rc = load_nccl(&n->nccl, nccl_lib, err, errlen)) < 0)
		return rc;
	e = n->cuda.get_count(&count);
	if (e != 0 || count == 0) {
		rl_errbuf(err, errlen, "no CUDA device: %s", e ? n->cuda.error_string(e) : "0 devices");
		return -ENODEV;
	}
	if (device < 0 || device >= count) {
		rl_errbuf(err, errlen, "GPU %d does not exist (this process sees %d)", device, count);
		return -ENODEV;
	}
	if ((e = n->cuda.set_device(device)) != 0 || (e = n->cuda.stream_create(&n->stream)) != 0) {
		rl_errbuf(err, errlen, "GPU %d: %s", device, n->cuda.error_string(e));
		return -ENODEV;
	}
	return 0;
}

int rl_nccl_unique_id(struct rl_nccl *n, uint8_t id[RL_NCCL_ID_BYTES], char *err, size_t errlen)
{
	nccl_id_t u;
	nccl_res_t r = n->nccl.get_unique_id(&u);

	if (r != 0) {
		rl_errbuf(err, errlen, "ncclGetUniqueId: %s", n->nccl.error_string(r));
		return -EIO;
	}
	memcpy(id, u.internal, RL_NCCL_ID_BYTES);
	return 0;
}

int rl_nccl_init(struct rl_nccl *n, const uint8_t id[RL_NCCL_ID_BYTES], int nranks, int rank,
		 int node, double timeout_s, char *err, size_t errlen)
{
	nccl_id_t u;
	nccl_res_t r;

	(void)timeout_s; /* blocking init: the worker stage's own deadline covers a hang */
	memcpy(u.internal, id, RL_NCCL_ID_BYTES);
	r = n->nccl.init_rank(&n->world, nranks, u, rank);
	if (r != 0) {
		rl_errbuf(err, errlen, "ncclCommInitRank: %s", n->nccl.error_string(r));
		return -EIO;
	}
	r = n->nccl.split(n->world, node, rank, &n->node, NULL);
	if (r != 0) {
		rl_errbuf(err, errlen, "ncclCommSplit: %s", n->nccl.error_string(r));
		return -EIO;
	}
	return 0;
}

static void abort_all(struct rl_nccl *n)
{
	if (n->node)
		n->nccl.abort(n->node);
	if (n->world)
		n->nccl.abort(n->world);
	n->node = n->world = NULL;
	n->aborted = true;
}

int rl_nccl_allreduce(struct rl_nccl *n, bool node, float *host, size_t count, double timeout_s,
		      double *seconds, char *err, size_t errlen)
{
	size_t bytes = count * sizeof(float);
	nccl_comm_t comm = node ? n->node : n->world;
	double t0, deadline;
	cuda_err_t e;
	nccl_res_t r;

	if (!comm) {
		rl_errbuf(err, errlen, "NCCL communicator not ready");
		return -EIO;
	}
	if (bytes > n->dev_bytes) {
		if (n->dev)
			n->cuda.free(n->dev);
		n->dev = NULL;
		if ((e = n->cuda.malloc(&n->dev, bytes)) != 0) {
			rl_errbuf(err, errlen, "cudaMalloc(%zu): %s", bytes, n->cuda.error_string(e));
			return -ENOMEM;
		}
		n->dev_bytes = bytes;
	}
	if ((e = n->cuda.memcpy(n->dev, host, bytes, H2D)) != 0) {
		rl_errbuf(err, errlen, "cudaMemcpy: %s", n->cuda.error_string(e));
		return -EIO;
	}
	t0 = now_s();
	deadline = t0 + timeout_s;
	r = n->nccl.all_reduce(n->dev, n->dev, count, NCCL_FLOAT32, NCCL_SUM, comm, n->stream);
	if (r != 0) {
		rl_errbuf(err, errlen, "ncclAllReduce: %s", n->nccl.error_string(r));
		return -EIO;
	}
	/* poll, so a peer that never comes cannot hold us past the deadline */
	while ((e = n->cuda.stream_query(n->stream)) == CUDA_NOT_READY) {
		nccl_res_t async = 0;
		if (n->nccl.async_error(comm, &async) == 0 && async != 0 && async != 7) {
			rl_errbuf(err, errlen, "NCCL: %s", n->nccl.error_string(async));
			abort_all(n);
			return -EIO;
		}
		if (now_s() > deadline) {
			rl_errbuf(err, errlen, "all-reduce did not finish in %.0f s (communicators aborted)",
				  timeout_s);
			abort_all(n);
			return -ETIMEDOUT;
		}
		sched_yield();
	}
	*seconds = now_s() - t0;
	if (e != 0 || (e = n->cuda.memcpy(host, n->dev, bytes, D2H)) != 0) {
		rl_errbuf(err, errlen, "CUDA: %s", n->cuda.error_string(e));
		return -EIO;
	}
	return 0;
}

void rl_nccl_close(struct rl_nccl *n)
{
	if (!n)
		return;
	if (n->node)
		n->nccl.destroy(n->node);
	if (n->world)
		n->nccl.destroy(n->world);
	if (n->cuda.lib) {
		if (n->dev)
			n->cuda.free(n->dev);
		if (n->stream)
			n->cuda.stream_destroy(n->stream);
		if (n->cuda.device_reset)
			n->cuda.device_reset();
	}
	/* the libraries stay loaded: NCCL's threads may still be winding down,
	 * and this process ends right after */
	free(n);
}
