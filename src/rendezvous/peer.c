#include "rlaunch/peer.h"

#include "rlaunch/auth.h"

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

/* Check and strip the seal of a frame: type, payload, MAC over both. */
static int unseal(struct rl_peer *p, uint8_t type, const uint8_t *payload, size_t *plen)
{
	uint8_t mac[RL_MAC_LEN], *body;
	size_t n = *plen;

	if (n < RL_MAC_LEN)
		return -EBADMSG;
	n -= RL_MAC_LEN;
	body = malloc(n + 1);
	if (!body)
		return -ENOMEM;
	body[0] = type;
	memcpy(body + 1, payload, n);
	rl_auth_frame_mac(p->key, p->recv_dir, p->recv_seq, body, n + 1, mac);
	free(body);
	if (!rl_auth_mac_equal(mac, payload + n))
		return -EBADMSG;
	p->recv_seq++;
	*plen = n;
	return 0;
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
			if (p->authenticated && unseal(p, type, payload, &plen) < 0) {
				rc = -EBADMSG;
				break;
			}
			p->last_rx = uv_now(p->tcp.loop);
			if (type != RL_MSG_HEARTBEAT)
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
	snprintf(p->addr, sizeof(p->addr), "%s", host);
	uv_tcp_nodelay(&p->tcp, 1);
	keep_alive(p);
	p->last_rx = p->last_tx = uv_now(p->tcp.loop);
	return uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

void rl_peer_trust(struct rl_peer *p, const uint8_t session_key[32], bool server)
{
	p->authenticated = true;
	memcpy(p->key, session_key, sizeof(p->key));
	p->send_dir = server ? 'S' : 'C';
	p->recv_dir = server ? 'C' : 'S';
	p->send_seq = p->recv_seq = 0;
	p->reader.max_frame = RL_WIRE_MAX_FRAME + RL_MAC_LEN;
}

/* Append the seal to the one frame in w and fix its length. */
static void seal(struct rl_peer *p, struct rl_wbuf *w)
{
	uint8_t mac[RL_MAC_LEN];
	uint32_t len;

	if (w->err || w->len < RL_WIRE_HEADER)
		return;
	rl_auth_frame_mac(p->key, p->send_dir, p->send_seq++, w->data + 4, w->len - 4, mac);
	len = (uint32_t)(w->len - 4 + RL_MAC_LEN);
	w->data[0] = (uint8_t)(len >> 24);
	w->data[1] = (uint8_t)(len >> 16);
	w->data[2] = (uint8_t)(len >> 8);
	w->data[3] = (uint8_t)len;
	/* grow w through the wire writer's own path */
	rl_wbuf_append(w, mac, RL_MAC_LEN);
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

	if (p->authenticated)
		seal(p, w);
	if (w->err || p->closing) {
		int err = w->err ? w->err : -EPIPE;
		rl_wbuf_release(w);
		return err;
	}
	req = malloc(sizeof(*req));
	if (!req) {
		rl_wbuf_release(w);
		return -ENOMEM;
	}
	req->data = w->data;
	p->last_tx = uv_now(p->tcp.loop);
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

int rl_peer_keepalive(struct rl_peer *p, uint64_t now)
{
	struct rl_wbuf w;

	if (p->closing)
		return 0;
	if (now - p->last_rx > RL_SILENCE_LIMIT_MS)
		return -ETIMEDOUT;
	if (now - p->last_tx >= RL_HEARTBEAT_MS) {
		rl_wbuf_init(&w);
		rl_wire_put_u32(&w, RL_MSG_HEARTBEAT, 0);
		rl_peer_send(p, &w);
	}
	return 0;
}
