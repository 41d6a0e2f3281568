#include "rlaunch/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct write_req {
	uv_write_t req;
	uint8_t *data;
};

int rl_peer_init(uv_loop_t *loop, struct rl_peer *p, const struct rl_peer_ops *ops, void *data)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->data = data;
	p->tcp.data = p;
	rl_wire_reader_init(&p->reader, RL_WIRE_MAX_PREAUTH);
	snprintf(p->name, sizeof(p->name), "?");
	return uv_tcp_init(loop, &p->tcp);
}

static void end(struct rl_peer *p, int reason)
{
	if (p->ended)
		return;
	p->ended = true;
	p->ops->on_end(p, reason);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char scratch[65536];
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rl_peer *p = s->data;
	const uint8_t *payload;
	size_t plen;
	uint8_t type;
	int rc;

	if (nread == 0 || p->closing)
		return;
	if (nread < 0) {
		end(p, nread == UV_EOF ? 0 : (int)nread);
		rl_peer_close(p);
		return;
	}
	rc = rl_wire_reader_feed(&p->reader, buf->base, (size_t)nread);
	while (rc == 0 && !p->closing) {
		rc = rl_wire_reader_next(&p->reader, &type, &payload, &plen);
		if (rc == 1) {
			p->ops->on_frame(p, type, payload, plen);
			rc = 0;
		} else if (rc == 0) {
			break;
		}
	}
	if (rc < 0 && !p->closing) {
		end(p, rc);
		rl_peer_close(p);
	}
}

/* A peer that vanishes without a FIN (power loss, partition) must still be
 * noticed: TCP keepalive probes after 5 s idle, every 5 s, 3 tries; and
 * data unacknowledged for 20 s ends the connection. About 20 s in all. */
static void keep_alive(struct rl_peer *p)
{
	uv_os_fd_t fd;
	int intvl = 5, cnt = 3;
	unsigned timeout_ms = 20000;

	uv_tcp_keepalive(&p->tcp, 1, 5);
	if (uv_fileno((uv_handle_t *)&p->tcp, &fd) < 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
}

int rl_peer_start(struct rl_peer *p)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			snprintf(p->name, sizeof(p->name), "%s:%d", host, ntohs(a->sin_port));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			snprintf(p->name, sizeof(p->name), "[%s]:%d", host, ntohs(a->sin6_port));
		}
	}
	uv_tcp_nodelay(&p->tcp, 1);
	keep_alive(p);
	return uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

void rl_peer_trust(struct rl_peer *p)
{
	p->authenticated = true;
	p->reader.max_frame = RL_WIRE_MAX_FRAME;
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct rl_peer *p = req->handle->data;

	free(w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED && !p->closing) {
		end(p, status);
		rl_peer_close(p);
	}
}

int rl_peer_send(struct rl_peer *p, struct rl_wbuf *w)
{
	struct write_req *req;
	uv_buf_t buf;
	int rc;

	if (w->err || p->closing) {
		rl_wbuf_release(w);
		return w->err ? w->err : -EPIPE;
	}
	req = malloc(sizeof(*req));
	if (!req) {
		rl_wbuf_release(w);
		return -ENOMEM;
	}
	req->data = w->data;
	buf = uv_buf_init((char *)w->data, (unsigned)w->len);
	rl_wbuf_init(w);
	rc = uv_write(&req->req, (uv_stream_t *)&p->tcp, &buf, 1, on_written);
	if (rc < 0) {
		free(req->data);
		free(req);
	}
	return rc;
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct rl_peer *p = h->data;
	rl_wire_reader_release(&p->reader);
	p->ops->on_closed(p);
}

void rl_peer_close(struct rl_peer *p)
{
	if (p->closing)
		return;
	p->closing = true;
	p->ended = true; /* the owner chose this: no on_end */
	uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct rl_peer *p = req->handle->data;
	(void)status;
	free(req);
	rl_peer_close(p);
}

void rl_peer_finish(struct rl_peer *p)
{
	uv_shutdown_t *req;

	if (p->closing)
		return;
	req = malloc(sizeof(*req));
	if (!req || uv_shutdown(req, (uv_stream_t *)&p->tcp, on_shutdown) < 0) {
		free(req);
		rl_peer_close(p);
	}
}
