#include "rlaunch/check.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlaunch/log.h"
#include "rlaunch/ofi_allreduce.h"
#include "rlaunch/parse.h"
#include "rlaunch/strv.h"

int rl_ctl_send(int fd, struct rl_wbuf *w)
{
	size_t off = 0;

	if (w->err)
		return w->err;
	while (off < w->len) {
		ssize_t n = write(fd, w->data + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		off += (size_t)n;
	}
	return 0;
}

int rl_ctl_recv(int fd, struct rl_wire_reader *r, int timeout_ms, uint8_t *type,
		const uint8_t **payload, size_t *len)
{
	for (;;) {
		uint8_t buf[65536];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int rc = rl_wire_reader_next(r, type, payload, len);

		if (rc != 0)
			return rc;
		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		if ((rc = rl_wire_reader_feed(r, buf, (size_t)n)) < 0)
			return rc;
	}
}

static bool hook(const struct rl_check_params *p, const char *name)
{
	const char *v = rl_env_lookup(p->envp, name);
	long r;
	return v && rl_parse_long(v, 0, 0x7fffffff, &r) == 0 && r == p->rank;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(float *buf, size_t count, int rank)
{
	for (size_t i = 0; i < count; i++)
		buf[i] = (float)((rank + 1) * (int)(i % 7 + 1));
}

/* One phase over group: returns 0 with busbw in KB/s, or a status. */
static int phase(struct rl_ofi *o, const struct rl_check_params *p, const int *group, int n,
		 int me, float *buf, size_t count, uint32_t tag, uint64_t *busbw_kbps,
		 struct rl_check_result *res)
{
	long sum = 0;
	double total = 0;
	char err[256];

	for (int g = 0; g < n; g++)
		sum += group[g] + 1;
	for (int it = 0; it <= p->iters; it++) { /* iteration 0 is the warm-up */
		double t0;
		int rc;

		fill(buf, count, p->rank);
		if (hook(p, "RLAUNCH_TEST_CHECK_CORRUPT"))
			buf[count / 3] += 1.0f;
		t0 = now_s();
		rc = rl_ofi_allreduce(o, group, n, me, buf, count, tag + (uint32_t)it, p->timeout_s,
				      err, sizeof(err));
		if (rc < 0) {
			snprintf(res->message, sizeof(res->message), "%.200s", err);
			return rc == -ETIMEDOUT ? RL_CHECK_TIMEOUT : RL_CHECK_COMM_FAILED;
		}
		if (it > 0)
			total += now_s() - t0;
		for (size_t i = 0; i < count; i++) {
			if (buf[i] != (float)(sum * (long)(i % 7 + 1))) {
				res->bad_index = (int64_t)i;
				snprintf(res->message, sizeof(res->message), "element %zu is %g, expected "
					 "%ld", i, (double)buf[i], sum * (long)(i % 7 + 1));
				return RL_CHECK_WRONG_DATA;
			}
		}
	}
	{
		double algbw = (double)count * sizeof(float) / (total / p->iters);
		*busbw_kbps = (uint64_t)(algbw * 2.0 * (n - 1) / n / 1000.0);
	}
	return RL_CHECK_OK;
}

static int report(int ctl, struct rl_check_result *res)
{
	struct rl_wbuf w;
	rl_wbuf_init(&w);
	rl_wire_put_check_results(&w, res, 1);
	rl_ctl_send(ctl, &w);
	rl_wbuf_release(&w);
	return 0;
}

int rl_check_run(int ctl, const struct rl_check_params *p)
{
	struct rl_check_result res = { .rank = p->rank, .bad_index = -1 };
	struct rl_check_addr self = { .rank = p->rank };
	struct rl_wire_reader reader;
	struct rl_ofi *o = NULL;
	struct rl_wbuf w;
	uint8_t *table = NULL;
	size_t count = (size_t)p->bytes / sizeof(float), len = 0;
	int *group = NULL, status = 0;
	float *buf = NULL;
	char err[256];

	rl_wire_reader_init(&reader, RL_WIRE_MAX_FRAME);
	if (rl_ofi_open(&o, hook(p, "RLAUNCH_TEST_CHECK_INIT_FAIL") ? "rlaunch-test-no-provider"
								  : p->provider,
			p->bind_addr, err, sizeof(err)) < 0 ||
	    rl_ofi_address(o, self.bytes, &len, err, sizeof(err)) < 0) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "%.200s", err);
		self.len = 0;
	}
	self.len = (uint16_t)len;
	if (res.status == RL_CHECK_OK) {
		rl_wbuf_init(&w);
		rl_wire_put_check_addrs(&w, &self, 1);
		rl_ctl_send(ctl, &w);
		rl_wbuf_release(&w);
	} else {
		report(ctl, &res); /* the coordinator ends the check at once */
		goto out;
	}

	/* every rank's address, or a NO-GO */
	for (;;) {
		uint8_t type;
		const uint8_t *payload;
		size_t plen, n;
		struct rl_check_addr *all;
		int rc = rl_ctl_recv(ctl, &reader, -1, &type, &payload, &plen);

		if (rc < 0)
			goto out;
		if (type == RL_MSG_CHECK_VERDICT) {
			status = RL_CHECK_SAW_NOGO;
			goto out;
		}
		if (type != RL_MSG_CHECK_ADDRS ||
		    rl_wire_get_check_addrs(payload, plen, (size_t)p->world, &all, &n) < 0 ||
		    n != (size_t)p->world)
			continue;
		table = calloc((size_t)p->world, RL_CHECK_ADDR_MAX);
		for (size_t i = 0; table && i < n; i++)
			if (all[i].rank < p->world)
				memcpy(table + (size_t)all[i].rank * RL_CHECK_ADDR_MAX, all[i].bytes, all[i].len);
		free(all);
		break;
	}
	if (!table || rl_ofi_set_peers(o, table, RL_CHECK_ADDR_MAX, p->world, err, sizeof(err)) < 0) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "%.200s", table ? err : "out of memory");
		report(ctl, &res);
		goto out;
	}

	buf = malloc(count * sizeof(float));
	group = calloc((size_t)p->world, sizeof(int));
	if (!buf || !group) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "out of memory for %ld bytes", p->bytes);
		report(ctl, &res);
		goto out;
	}
	/* phase 1: this node's ranks (STRICT_PACK: consecutive ranks) */
	for (int i = 0; i < p->local_world; i++)
		group[i] = p->node_rank * p->local_world + i;
	if (p->local_world > 1)
		res.status = (uint32_t)phase(o, p, group, p->local_world, p->rank - group[0], buf, count,
					     0x1000, &res.node_busbw_kbps, &res);
	if (res.status == RL_CHECK_OK && hook(p, "RLAUNCH_TEST_CHECK_HANG"))
		for (;;)
			pause();
	/* phase 2: every rank */
	if (res.status == RL_CHECK_OK && p->world > 1) {
		for (int i = 0; i < p->world; i++)
			group[i] = i;
		res.status = (uint32_t)phase(o, p, group, p->world, p->rank, buf, count, 0x2000,
					     &res.all_busbw_kbps, &res);
	}
	report(ctl, &res);
out:
	free(buf);
	free(group);
	free(table);
	rl_ofi_close(o);
	rl_wire_reader_release(&reader);
	return status;
}
