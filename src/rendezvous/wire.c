#include "rlaunch/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>

/* ---- writing ------------------------------------------------------------ */

void rl_wbuf_init(struct rl_wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void rl_wbuf_release(struct rl_wbuf *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

/* Room for need bytes in a doubling buffer. 0 or -ENOMEM (buffer unchanged). */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 256;
	uint8_t *b;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	b = realloc(*buf, c);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = c;
	return 0;
}

static void put_bytes(struct rl_wbuf *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (reserve(&w->data, &w->cap, w->len + n) < 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static void put_u8(struct rl_wbuf *w, uint8_t v) { put_bytes(w, &v, 1); }

void rl_wbuf_append(struct rl_wbuf *w, const void *p, size_t n)
{
	put_bytes(w, p, n);
}

static void put_u16(struct rl_wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put_bytes(w, b, 2);
}

static void put_u32(struct rl_wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put_bytes(w, b, 4);
}

static void put_u64(struct rl_wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_str(struct rl_wbuf *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

/* Frames: reserve the length, write the body, then patch the length in. */
static size_t frame_begin(struct rl_wbuf *w, enum rl_msg_type type)
{
	size_t at = w->len;
	put_u32(w, 0);
	put_u8(w, (uint8_t)type);
	return at;
}

static void frame_end(struct rl_wbuf *w, size_t at)
{
	uint32_t n;
	if (w->err)
		return;
	n = (uint32_t)(w->len - at - 4);
	w->data[at] = (uint8_t)(n >> 24);
	w->data[at + 1] = (uint8_t)(n >> 16);
	w->data[at + 2] = (uint8_t)(n >> 8);
	w->data[at + 3] = (uint8_t)n;
}

static void put_node(struct rl_wbuf *w, const struct rl_node_info *n)
{
	put_u8(w, n->addr.family == AF_INET6 ? 6 : 4);
	put_bytes(w, n->addr.bytes, 16);
	put_str(w, n->host, RL_HOSTNAME_MAX);
	put_u32(w, n->gpus_per_node);
	put_u32(w, n->gpus_available);
	put_u32(w, n->pid);
	put_u16(w, n->port);
	put_u16(w, n->coord_port);
	put_u32(w, n->nodes);
}

static void put_failure_body(struct rl_wbuf *w, const struct rl_wire_failure *f)
{
	put_u32(w, (uint32_t)f->rank);
	put_u32(w, (uint32_t)f->local_rank);
	put_u32(w, (uint32_t)f->node_rank);
	put_u32(w, f->pid);
	put_u32(w, (uint32_t)f->exit_code);
	put_u32(w, (uint32_t)f->signal);
	put_u32(w, (uint32_t)f->exec_error);
	put_u64(w, (uint64_t)f->sec);
	put_u32(w, (uint32_t)f->nsec);
	put_str(w, f->host, RL_HOSTNAME_MAX);
	put_str(w, f->reason, RL_REASON_MAX);
}

void rl_wire_put_hello(struct rl_wbuf *w, const struct rl_msg_hello *m)
{
	size_t at = frame_begin(w, RL_MSG_HELLO);
	put_u16(w, m->version);
	put_bytes(w, m->nonce, RL_NONCE_LEN);
	frame_end(w, at);
}

void rl_wire_put_auth(struct rl_wbuf *w, const struct rl_msg_auth *m)
{
	size_t at = frame_begin(w, RL_MSG_AUTH);
	put_u16(w, m->version);
	put_bytes(w, m->nonce, RL_NONCE_LEN);
	put_bytes(w, m->mac, RL_MAC_LEN);
	frame_end(w, at);
}

void rl_wire_put_auth_ok(struct rl_wbuf *w, const uint8_t mac[RL_MAC_LEN])
{
	size_t at = frame_begin(w, RL_MSG_AUTH_OK);
	put_bytes(w, mac, RL_MAC_LEN);
	frame_end(w, at);
}

void rl_wire_put_join(struct rl_wbuf *w, const struct rl_node_info *n)
{
	size_t at = frame_begin(w, RL_MSG_JOIN);
	put_node(w, n);
	frame_end(w, at);
}

void rl_wire_put_roster(struct rl_wbuf *w, const struct rl_msg_roster *m)
{
	size_t at = frame_begin(w, RL_MSG_ROSTER);
	put_u16(w, m->master_port);
	put_str(w, m->run_id, RL_RUN_ID_MAX);
	put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++)
		put_node(w, &m->nodes[i]);
	frame_end(w, at);
}

void rl_wire_put_failure(struct rl_wbuf *w, enum rl_msg_type type, const struct rl_wire_failure *f)
{
	size_t at = frame_begin(w, type);
	put_failure_body(w, f);
	frame_end(w, at);
}

void rl_wire_put_u32(struct rl_wbuf *w, enum rl_msg_type type, uint32_t value)
{
	size_t at = frame_begin(w, type);
	put_u32(w, value);
	frame_end(w, at);
}

void rl_wire_put_final(struct rl_wbuf *w, const struct rl_msg_final *m)
{
	size_t at = frame_begin(w, RL_MSG_FINAL);
	put_u32(w, (uint32_t)m->status);
	put_u8(w, m->has_culprit ? 1 : 0);
	if (m->has_culprit)
		put_failure_body(w, &m->culprit);
	frame_end(w, at);
}

void rl_wire_put_reject(struct rl_wbuf *w, int status, const char *reason)
{
	size_t at = frame_begin(w, RL_MSG_REJECT);
	put_u8(w, (uint8_t)status);
	put_str(w, reason, RL_REASON_MAX);
	frame_end(w, at);
}

void rl_wire_put_munge(struct rl_wbuf *w, enum rl_msg_type type, const char *cred)
{
	size_t at = frame_begin(w, type);
	if (type == RL_MSG_AUTH_MUNGE)
		put_u16(w, RL_WIRE_VERSION);
	put_str(w, cred, RL_WIRE_MUNGE_MAX);
	frame_end(w, at);
}

void rl_wire_put_raw(struct rl_wbuf *w, enum rl_msg_type type, const uint8_t *payload, size_t n)
{
	size_t at = frame_begin(w, type);
	put_bytes(w, payload, n);
	frame_end(w, at);
}

void rl_wire_put_check_addrs(struct rl_wbuf *w, const struct rl_check_addr *a, size_t n)
{
	size_t at = frame_begin(w, RL_MSG_CHECK_ADDRS);
	put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_u32(w, (uint32_t)a[i].rank);
		put_u16(w, a[i].len);
		put_bytes(w, a[i].bytes, a[i].len);
	}
	frame_end(w, at);
}

void rl_wire_put_check_results(struct rl_wbuf *w, const struct rl_check_result *r, size_t n)
{
	size_t at = frame_begin(w, RL_MSG_CHECK_RESULTS);
	put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_u32(w, (uint32_t)r[i].rank);
		put_u32(w, r[i].status);
		put_u64(w, r[i].node_busbw_kbps);
		put_u64(w, r[i].all_busbw_kbps);
		put_u64(w, (uint64_t)r[i].bad_index);
		put_str(w, r[i].message, RL_CHECK_MESSAGE_MAX);
	}
	frame_end(w, at);
}

/* ---- reading ------------------------------------------------------------ */

struct rbuf {
	const uint8_t *p;
	size_t n, off;
	int err;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	const uint8_t *at;
	if (r->err || n > r->n - r->off) {
		r->err = -EBADMSG;
		return NULL;
	}
	at = r->p + r->off;
	r->off += n;
	return at;
}

static uint8_t get_u8(struct rbuf *r)
{
	const uint8_t *b = take(r, 1);
	return b ? b[0] : 0;
}

static uint16_t get_u16(struct rbuf *r)
{
	const uint8_t *b = take(r, 2);
	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	const uint8_t *b = take(r, 4);
	return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t hi = get_u32(r);
	return hi << 32 | get_u32(r);
}

static void get_bytes(struct rbuf *r, void *out, size_t n)
{
	const uint8_t *b = take(r, n);
	if (b)
		memcpy(out, b, n);
	else
		memset(out, 0, n);
}

/* A string of at most max bytes, without NUL bytes inside. */
static void get_str(struct rbuf *r, char *out, size_t max)
{
	uint16_t n = get_u16(r);
	const uint8_t *b;

	out[0] = '\0';
	if (n > max) {
		r->err = -EBADMSG;
		return;
	}
	b = take(r, n);
	if (!b || memchr(b, 0, n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

static int finish(struct rbuf *r)
{
	return r->err ? r->err : r->off == r->n ? 0 : -EBADMSG;
}

static void get_node(struct rbuf *r, struct rl_node_info *n)
{
	uint8_t fam = get_u8(r);

	memset(n, 0, sizeof(*n));
	if (fam != 4 && fam != 6)
		r->err = -EBADMSG;
	n->addr.family = fam == 6 ? AF_INET6 : AF_INET;
	get_bytes(r, n->addr.bytes, 16);
	get_str(r, n->host, RL_HOSTNAME_MAX);
	n->gpus_per_node = get_u32(r);
	n->gpus_available = get_u32(r);
	n->pid = get_u32(r);
	n->port = get_u16(r);
	n->coord_port = get_u16(r);
	n->nodes = get_u32(r);
}

static void get_failure_body(struct rbuf *r, struct rl_wire_failure *f)
{
	memset(f, 0, sizeof(*f));
	f->rank = (int32_t)get_u32(r);
	f->local_rank = (int32_t)get_u32(r);
	f->node_rank = (int32_t)get_u32(r);
	f->pid = get_u32(r);
	f->exit_code = (int32_t)get_u32(r);
	f->signal = (int32_t)get_u32(r);
	f->exec_error = (int32_t)get_u32(r);
	f->sec = (int64_t)get_u64(r);
	f->nsec = (int32_t)get_u32(r);
	get_str(r, f->host, RL_HOSTNAME_MAX);
	get_str(r, f->reason, RL_REASON_MAX);
	if (f->signal < 0 || f->signal > 64 || f->nsec < 0 || f->nsec >= 1000000000)
		r->err = -EBADMSG;
}

int rl_wire_get_hello(const uint8_t *p, size_t n, struct rl_msg_hello *m)
{
	struct rbuf r = { p, n, 0, 0 };
	m->version = get_u16(&r);
	get_bytes(&r, m->nonce, RL_NONCE_LEN);
	return finish(&r);
}

int rl_wire_get_auth(const uint8_t *p, size_t n, struct rl_msg_auth *m)
{
	struct rbuf r = { p, n, 0, 0 };
	m->version = get_u16(&r);
	get_bytes(&r, m->nonce, RL_NONCE_LEN);
	get_bytes(&r, m->mac, RL_MAC_LEN);
	return finish(&r);
}

int rl_wire_get_auth_ok(const uint8_t *p, size_t n, uint8_t mac[RL_MAC_LEN])
{
	struct rbuf r = { p, n, 0, 0 };
	get_bytes(&r, mac, RL_MAC_LEN);
	return finish(&r);
}

int rl_wire_get_join(const uint8_t *p, size_t n, struct rl_node_info *info)
{
	struct rbuf r = { p, n, 0, 0 };
	get_node(&r, info);
	return finish(&r);
}

int rl_wire_get_roster(const uint8_t *p, size_t n, struct rl_msg_roster *m)
{
	struct rbuf r = { p, n, 0, 0 };
	/* the smallest node on the wire: family, address, empty host, 3 u32, u16 */
	const size_t min_node = 1 + 16 + 2 + 12 + 2 + 2 + 4;

	memset(m, 0, sizeof(*m));
	m->master_port = get_u16(&r);
	get_str(&r, m->run_id, RL_RUN_ID_MAX);
	m->count = get_u32(&r);
	if (r.err || m->count == 0 || m->count > RL_MAX_NODES || m->count > (n - r.off) / min_node)
		return -EBADMSG;
	m->nodes = calloc(m->count, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->count && !r.err; i++)
		get_node(&r, &m->nodes[i]);
	if (finish(&r) < 0) {
		free(m->nodes);
		m->nodes = NULL;
		return -EBADMSG;
	}
	return 0;
}

int rl_wire_get_failure(const uint8_t *p, size_t n, struct rl_wire_failure *f)
{
	struct rbuf r = { p, n, 0, 0 };
	get_failure_body(&r, f);
	return finish(&r);
}

int rl_wire_get_u32(const uint8_t *p, size_t n, uint32_t *value)
{
	struct rbuf r = { p, n, 0, 0 };
	*value = get_u32(&r);
	return finish(&r);
}

int rl_wire_get_final(const uint8_t *p, size_t n, struct rl_msg_final *m)
{
	struct rbuf r = { p, n, 0, 0 };
	uint8_t has;

	memset(m, 0, sizeof(*m));
	m->status = (int32_t)get_u32(&r);
	has = get_u8(&r);
	if (has > 1)
		return -EBADMSG;
	m->has_culprit = has;
	if (has)
		get_failure_body(&r, &m->culprit);
	if (m->status < 0 || m->status > 255)
		return -EBADMSG;
	return finish(&r);
}

int rl_wire_get_reject(const uint8_t *p, size_t n, int *status, char *reason, size_t len)
{
	struct rbuf r = { p, n, 0, 0 };
	char buf[RL_REASON_MAX + 1];
	*status = get_u8(&r);
	get_str(&r, buf, RL_REASON_MAX);
	if (*status == 0)
		return -EBADMSG;
	if (finish(&r) < 0)
		return -EBADMSG;
	snprintf(reason, len, "%s", buf);
	return 0;
}

int rl_wire_get_munge(const uint8_t *p, size_t n, uint16_t *version, char *cred)
{
	struct rbuf r = { p, n, 0, 0 };
	if (version)
		*version = get_u16(&r);
	get_str(&r, cred, RL_WIRE_MUNGE_MAX);
	if (!cred[0])
		return -EBADMSG;
	return finish(&r);
}

int rl_wire_get_check_addrs(const uint8_t *p, size_t n, size_t max, struct rl_check_addr **out,
			    size_t *count)
{
	struct rbuf r = { p, n, 0, 0 };
	uint32_t c = get_u32(&r);
	struct rl_check_addr *a;

	*out = NULL;
	*count = 0;
	if (r.err || c == 0 || c > max || c > (n - r.off) / 6)
		return -EBADMSG;
	a = calloc(c, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (uint32_t i = 0; i < c && !r.err; i++) {
		a[i].rank = (int32_t)get_u32(&r);
		a[i].len = get_u16(&r);
		if (a[i].len == 0 || a[i].len > RL_CHECK_ADDR_MAX || a[i].rank < 0) {
			r.err = -EBADMSG;
			break;
		}
		get_bytes(&r, a[i].bytes, a[i].len);
	}
	if (finish(&r) < 0) {
		free(a);
		return -EBADMSG;
	}
	*out = a;
	*count = c;
	return 0;
}

int rl_wire_get_check_results(const uint8_t *p, size_t n, size_t max,
			      struct rl_check_result **out, size_t *count)
{
	struct rbuf r = { p, n, 0, 0 };
	uint32_t c = get_u32(&r);
	struct rl_check_result *res;

	*out = NULL;
	*count = 0;
	if (r.err || c == 0 || c > max || c > (n - r.off) / 34)
		return -EBADMSG;
	res = calloc(c, sizeof(*res));
	if (!res)
		return -ENOMEM;
	for (uint32_t i = 0; i < c && !r.err; i++) {
		res[i].rank = (int32_t)get_u32(&r);
		res[i].status = get_u32(&r);
		res[i].node_busbw_kbps = get_u64(&r);
		res[i].all_busbw_kbps = get_u64(&r);
		res[i].bad_index = (int64_t)get_u64(&r);
		get_str(&r, res[i].message, RL_CHECK_MESSAGE_MAX);
		if (res[i].rank < 0 || res[i].status > RL_CHECK_STATUS_MAX)
			r.err = -EBADMSG;
	}
	if (finish(&r) < 0) {
		free(res);
		return -EBADMSG;
	}
	*out = res;
	*count = c;
	return 0;
}

/* ---- framing ------------------------------------------------------------ */

void rl_wire_reader_init(struct rl_wire_reader *r, size_t max_frame)
{
	memset(r, 0, sizeof(*r));
	r->max_frame = max_frame;
}

void rl_wire_reader_release(struct rl_wire_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* The caller drains every whole frame after each feed, so what is pending
 * is at most one partial frame plus one read. */
#define RL_WIRE_READ_SLACK 65536

static uint32_t frame_length(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void drop_consumed(struct rl_wire_reader *r)
{
	if (!r->consumed)
		return;
	memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
	r->len -= r->consumed;
	r->consumed = 0;
}

int rl_wire_reader_feed(struct rl_wire_reader *r, const void *data, size_t n)
{
	drop_consumed(r);
	if (n == 0)
		return 0;
	if (r->len + n > r->max_frame + 4 + RL_WIRE_READ_SLACK)
		return -EMSGSIZE;
	if (reserve(&r->buf, &r->cap, r->len + n) < 0)
		return -ENOMEM;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

int rl_wire_reader_next(struct rl_wire_reader *r, uint8_t *type, const uint8_t **payload,
			size_t *plen)
{
	uint32_t len;

	drop_consumed(r);
	if (r->len < 4)
		return 0;
	len = frame_length(r->buf);
	if (len > r->max_frame || len > RL_WIRE_MAX_FRAME)
		return -EMSGSIZE;
	if (len < 1)
		return -EBADMSG;
	if (r->len < 4 + (size_t)len)
		return 0;
	if (r->buf[4] < RL_MSG_HELLO || r->buf[4] > RL_MSG_TYPE_MAX)
		return -EBADMSG;
	*type = r->buf[4];
	*payload = r->buf + 5;
	*plen = len - 1;
	r->consumed = 4 + (size_t)len; /* dropped on the next call */
	return 1;
}
