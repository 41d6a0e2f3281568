/* Sealed frames between two real peers over a socket pair on a libuv loop:
 * a sealed frame arrives whole; a forged, replayed or reflected one ends
 * the connection. */
#include <sys/socket.h>
#include <unistd.h>

#include "rlaunch/auth.h"
#include "rlaunch/peer.h"
#include "test.h"

struct side {
	struct rl_peer peer;
	int frames;
	uint32_t last;
	int end_reason;
	bool ended;
};

static void on_frame(struct rl_peer *p, uint8_t type, const uint8_t *payload, size_t n)
{
	struct side *s = p->data;
	if (type == RL_MSG_SIGNAL && rl_wire_get_u32(payload, n, &s->last) == 0)
		s->frames++;
}

static void on_end(struct rl_peer *p, int reason)
{
	struct side *s = p->data;
	s->ended = true;
	s->end_reason = reason;
}

static void on_closed(struct rl_peer *p)
{
	(void)p;
}

static const struct rl_peer_ops ops = { on_frame, on_end, on_closed };

/* Two trusted peers a (server) and b (client) with one session key. */
static void pair(uv_loop_t *loop, struct side *a, struct side *b, int fds[2])
{
	uint8_t key[32];
	memset(key, 7, sizeof(key));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		abort();
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	rl_peer_init(loop, &a->peer, &ops, a);
	rl_peer_init(loop, &b->peer, &ops, b);
	uv_tcp_open(&a->peer.tcp, fds[0]);
	uv_tcp_open(&b->peer.tcp, fds[1]);
	rl_peer_start(&a->peer);
	rl_peer_start(&b->peer);
	rl_peer_trust(&a->peer, key, true);
	rl_peer_trust(&b->peer, key, false);
}

static void close_pair(uv_loop_t *loop, struct side *a, struct side *b)
{
	rl_peer_close(&a->peer);
	rl_peer_close(&b->peer);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void send_signal(struct side *s, uint32_t v)
{
	struct rl_wbuf w;
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_SIGNAL, v);
	rl_peer_send(&s->peer, &w);
}

static void test_sealed_frames_arrive(void)
{
	uv_loop_t loop;
	struct side a, b;
	int fds[2];
	uv_loop_init(&loop);
	pair(&loop, &a, &b, fds);
	send_signal(&a, 15);
	send_signal(&a, 10);
	send_signal(&b, 12);
	for (int i = 0; i < 20 && (b.frames < 2 || a.frames < 1); i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(b.frames, 2);
	ASSERT_EQ(b.last, 10);
	ASSERT_EQ(a.frames, 1);
	ASSERT_TRUE(!a.ended && !b.ended);
	close_pair(&loop, &a, &b);
	uv_loop_close(&loop);
}

static void test_forged_frame_ends_connection(void)
{
	uv_loop_t loop;
	struct side a, b;
	int fds[2];
	struct rl_wbuf w;
	uv_loop_init(&loop);
	pair(&loop, &a, &b, fds);
	/* an unsealed frame written straight into the stream, as an injector would */
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_SIGNAL, 9);
	for (int i = 0; i < 32; i++)
		rl_wbuf_append(&w, "\0", 1);
	w.data[3] += 32;
	ASSERT_EQ(write(fds[0], w.data, w.len), (ssize_t)w.len);
	rl_wbuf_release(&w);
	for (int i = 0; i < 20 && !b.ended; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_TRUE(b.ended);
	ASSERT_EQ(b.end_reason, -74 /* EBADMSG */);
	ASSERT_EQ(b.frames, 0);
	close_pair(&loop, &a, &b);
	uv_loop_close(&loop);
}

static void test_reflected_frame_ends_connection(void)
{
	uv_loop_t loop;
	struct side a, b;
	int fds[2];
	uint8_t key[32];
	struct rl_wbuf w;
	uint8_t mac[32];
	uv_loop_init(&loop);
	pair(&loop, &a, &b, fds);
	/* sealed as the client would seal it (direction 'C'), sent to the client */
	memset(key, 7, sizeof(key));
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_SIGNAL, 9);
	rl_auth_frame_mac(key, 'C', 0, w.data + 4, w.len - 4, mac);
	rl_wbuf_append(&w, mac, sizeof(mac));
	w.data[3] += 32;
	ASSERT_EQ(write(fds[0], w.data, w.len), (ssize_t)w.len);
	rl_wbuf_release(&w);
	for (int i = 0; i < 20 && !b.ended; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_TRUE(b.ended);
	ASSERT_EQ(b.frames, 0);
	close_pair(&loop, &a, &b);
	uv_loop_close(&loop);
}

int main(void)
{
	RUN_TEST(test_sealed_frames_arrive);
	RUN_TEST(test_forged_frame_ends_connection);
	RUN_TEST(test_reflected_frame_ends_connection);
	TEST_MAIN_END();
}
