/* Addresses, interface filters, the roster, the wire codec and the HMAC
 * handshake: the pure parts of the multi-node rendezvous. */
#include <sys/socket.h>

#include "rlaunch/auth.h"
#include "rlaunch/node_addr.h"
#include "rlaunch/roster.h"
#include "rlaunch/wire.h"
#include "test.h"

static struct rl_node_info node(const char *addr, const char *host, unsigned g, unsigned avail)
{
	struct rl_node_info n;
	memset(&n, 0, sizeof(n));
	if (rl_addr_parse(addr, &n.addr) < 0)
		abort();
	snprintf(n.host, sizeof(n.host), "%s", host);
	n.gpus_per_node = g;
	n.gpus_available = avail;
	n.pid = 4242;
	return n;
}

static void test_addr_order_is_numeric(void)
{
	struct rl_addr a, b, c;
	char buf[RL_ADDR_STRLEN];
	ASSERT_EQ(rl_addr_parse("10.0.0.9", &a), 0);
	ASSERT_EQ(rl_addr_parse("10.0.0.10", &b), 0);
	ASSERT_EQ(rl_addr_parse("fd00::1", &c), 0);
	ASSERT_TRUE(rl_addr_compare(&a, &b) < 0); /* strings would say otherwise */
	ASSERT_TRUE(rl_addr_compare(&b, &c) < 0); /* IPv4 before IPv6 */
	ASSERT_EQ(rl_addr_compare(&a, &a), 0);
	ASSERT_STREQ(rl_addr_format(&b, buf, sizeof(buf)), "10.0.0.10");
	ASSERT_STREQ(rl_addr_format(&c, buf, sizeof(buf)), "fd00::1");
	ASSERT_EQ(rl_addr_parse("10.0.0", &a), -22);
	ASSERT_EQ(rl_addr_parse("host", &a), -22);
}

static void test_iface_filter(void)
{
	struct rl_iface_filter f;
	char err[256];
	ASSERT_EQ(rl_iface_filter_parse(&f, "^docker,lo,veth", err, sizeof(err)), 0);
	ASSERT_TRUE(rl_iface_filter_match(&f, "eth0"));
	ASSERT_TRUE(!rl_iface_filter_match(&f, "lo"));
	ASSERT_TRUE(!rl_iface_filter_match(&f, "docker0"));
	ASSERT_TRUE(!rl_iface_filter_match(&f, "veth12ab"));
	rl_iface_filter_release(&f);
	ASSERT_EQ(rl_iface_filter_parse(&f, "=eth0", err, sizeof(err)), 0);
	ASSERT_TRUE(rl_iface_filter_match(&f, "eth0"));
	ASSERT_TRUE(!rl_iface_filter_match(&f, "eth01"));
	rl_iface_filter_release(&f);
	ASSERT_EQ(rl_iface_filter_parse(&f, "ens,eth", err, sizeof(err)), 0);
	ASSERT_TRUE(rl_iface_filter_match(&f, "ens5"));
	ASSERT_TRUE(!rl_iface_filter_match(&f, "lo"));
	rl_iface_filter_release(&f);
	ASSERT_EQ(rl_iface_filter_parse(&f, "eth0,,lo", err, sizeof(err)), -22);
	rl_iface_filter_release(&f);
	ASSERT_EQ(rl_iface_filter_parse(&f, "^", err, sizeof(err)), -22);
	rl_iface_filter_release(&f);
}

static void test_roster(void)
{
	struct rl_node_info n[3] = { node("127.0.0.100", "c", 2, 0), node("127.0.0.9", "a", 2, 0),
				     node("127.0.0.10", "b", 2, 8) };
	struct rl_addr probe;
	char err[256] = "";
	ASSERT_EQ(rl_roster_build(n, 3, 3, err, sizeof(err)), 0);
	ASSERT_STREQ(n[0].host, "a");
	ASSERT_STREQ(n[1].host, "b");
	ASSERT_STREQ(n[2].host, "c");
	rl_addr_parse("127.0.0.10", &probe);
	ASSERT_EQ(rl_roster_find(n, 3, &probe), 1);
	rl_addr_parse("127.0.0.11", &probe);
	ASSERT_EQ(rl_roster_find(n, 3, &probe), -1);

	ASSERT_EQ(rl_roster_build(n, 3, 4, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "3 agents joined but --nodes is 4");

	struct rl_node_info dup[2] = { node("10.1.1.1", "x", 2, 0), node("10.1.1.1", "y", 2, 0) };
	ASSERT_EQ(rl_roster_build(dup, 2, 2, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "two agents on address 10.1.1.1");

	struct rl_node_info mixed[2] = { node("10.1.1.1", "x", 2, 0), node("10.1.1.2", "y", 4, 0) };
	ASSERT_EQ(rl_roster_build(mixed, 2, 2, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "disagree on ranks per node");

	struct rl_node_info small[2] = { node("10.1.1.1", "x", 4, 8), node("10.1.1.2", "y", 4, 2) };
	ASSERT_EQ(rl_roster_build(small, 2, 2, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "node 'y' (10.1.1.2) has 2 GPUs");
}

/* Encode one frame, feed it through the reader byte by byte, return the payload. */
static int roundtrip(struct rl_wbuf *w, uint8_t *type, uint8_t *out, size_t *n)
{
	struct rl_wire_reader r;
	const uint8_t *p;
	int rc = 0;
	rl_wire_reader_init(&r, RL_WIRE_MAX_FRAME);
	for (size_t i = 0; i < w->len && rc == 0; i++) {
		if (rl_wire_reader_feed(&r, &w->data[i], 1) < 0)
			abort();
		rc = rl_wire_reader_next(&r, type, &p, n);
	}
	if (rc == 1)
		memcpy(out, p, *n);
	rl_wire_reader_release(&r);
	return rc;
}

static void test_wire_roundtrip(void)
{
	static uint8_t payload[1 << 16];
	struct rl_node_info nodes[2] = { node("10.0.0.1", "n1", 8, 8), node("fd00::2", "n2", 8, 8) };
	struct rl_msg_roster ro = { .master_port = 29500, .count = 2, .nodes = nodes }, back;
	struct rl_wire_failure f = { .rank = 11, .local_rank = 3, .node_rank = 1, .pid = 99,
				     .exit_code = 0, .signal = 11, .sec = 1700000000, .nsec = 5 }, fb;
	struct rl_msg_final fin = { .status = 139, .has_culprit = true }, finb;
	struct rl_wbuf w;
	uint8_t type;
	size_t n;

	snprintf(ro.run_id, sizeof(ro.run_id), "job-1");
	snprintf(f.host, sizeof(f.host), "n2");
	rl_wbuf_init(&w);
	rl_wire_put_roster(&w, &ro);
	ASSERT_EQ(roundtrip(&w, &type, payload, &n), 1);
	ASSERT_EQ(type, RL_MSG_ROSTER);
	ASSERT_EQ(rl_wire_get_roster(payload, n, &back), 0);
	ASSERT_EQ(back.count, 2);
	ASSERT_EQ(back.master_port, 29500);
	ASSERT_STREQ(back.run_id, "job-1");
	ASSERT_STREQ(back.nodes[1].host, "n2");
	ASSERT_EQ(back.nodes[1].addr.family, AF_INET6);
	ASSERT_EQ(rl_addr_compare(&back.nodes[1].addr, &nodes[1].addr), 0);
	ASSERT_EQ(back.nodes[0].gpus_per_node, 8);
	free(back.nodes);
	rl_wbuf_release(&w);

	rl_wbuf_init(&w);
	rl_wire_put_failure(&w, RL_MSG_RANK_FAILED, &f);
	ASSERT_EQ(roundtrip(&w, &type, payload, &n), 1);
	ASSERT_EQ(rl_wire_get_failure(payload, n, &fb), 0);
	ASSERT_EQ(fb.rank, 11);
	ASSERT_EQ(fb.signal, 11);
	ASSERT_EQ(fb.sec, 1700000000);
	ASSERT_STREQ(fb.host, "n2");
	rl_wbuf_release(&w);

	fin.culprit = f;
	rl_wbuf_init(&w);
	rl_wire_put_final(&w, &fin);
	ASSERT_EQ(roundtrip(&w, &type, payload, &n), 1);
	ASSERT_EQ(rl_wire_get_final(payload, n, &finb), 0);
	ASSERT_EQ(finb.status, 139);
	ASSERT_TRUE(finb.has_culprit);
	ASSERT_EQ(finb.culprit.pid, 99);
	rl_wbuf_release(&w);
}

static void test_wire_rejects_garbage(void)
{
	struct rl_wire_reader r;
	const uint8_t *p;
	uint8_t type;
	size_t n;
	struct rl_node_info info;
	struct rl_msg_roster ro;
	const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, RL_MSG_JOIN };
	const uint8_t unknown[] = { 0, 0, 0, 1, 0xee };
	const uint8_t empty[] = { 0, 0, 0, 0 };
	/* a roster claiming 65536 nodes in 10 bytes: no allocation, just an error */
	const uint8_t lying[] = { 0x75, 0x30, 0, 0, 0, 1, 0, 0, 0, 0 };
	/* a host string whose length runs past the payload */
	const uint8_t overrun[] = { 4, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	rl_wire_reader_init(&r, RL_WIRE_MAX_PREAUTH);
	ASSERT_EQ(rl_wire_reader_feed(&r, huge, sizeof(huge)), 0);
	ASSERT_EQ(rl_wire_reader_next(&r, &type, &p, &n), -90 /* EMSGSIZE */);
	rl_wire_reader_release(&r);
	rl_wire_reader_init(&r, RL_WIRE_MAX_PREAUTH);
	rl_wire_reader_feed(&r, unknown, sizeof(unknown));
	ASSERT_EQ(rl_wire_reader_next(&r, &type, &p, &n), -74 /* EBADMSG */);
	rl_wire_reader_release(&r);
	rl_wire_reader_init(&r, RL_WIRE_MAX_PREAUTH);
	rl_wire_reader_feed(&r, empty, sizeof(empty));
	ASSERT_EQ(rl_wire_reader_next(&r, &type, &p, &n), -74);
	rl_wire_reader_release(&r);

	ASSERT_EQ(rl_wire_get_roster(lying, sizeof(lying), &ro), -74);
	ASSERT_EQ(rl_wire_get_join(overrun, sizeof(overrun), &info), -74);
	ASSERT_EQ(rl_wire_get_join(overrun, 3, &info), -74);
	/* trailing bytes are an error too */
	uint8_t u32_plus[5] = { 0, 0, 0, 1, 9 };
	uint32_t v;
	ASSERT_EQ(rl_wire_get_u32(u32_plus, 4, &v), 0);
	ASSERT_EQ(rl_wire_get_u32(u32_plus, 5, &v), -74);
}

static void test_handshake(void)
{
	struct rl_secret good, bad;
	uint8_t ns[RL_NONCE_LEN], nc[RL_NONCE_LEN], m1[RL_MAC_LEN], m2[RL_MAC_LEN], m3[RL_MAC_LEN];
	char *env_good[] = { "RLAUNCH_TOKEN=s3cret\n", NULL }, *env_bad[] = { "RLAUNCH_TOKEN=other", NULL };
	char *env_none[] = { "PATH=/bin", NULL }, *env_empty[] = { "RLAUNCH_TOKEN=", NULL };
	char err[256];

	ASSERT_EQ(rl_auth_init(), 0);
	ASSERT_EQ(rl_secret_load(&good, NULL, env_good, err, sizeof(err)), 0);
	ASSERT_EQ(good.len, 6); /* trailing newline dropped */
	ASSERT_EQ(rl_secret_load(&bad, NULL, env_bad, err, sizeof(err)), 0);
	ASSERT_EQ(rl_secret_load(&bad, NULL, env_none, err, sizeof(err)), -2);
	ASSERT_EQ(rl_secret_load(&bad, NULL, env_empty, err, sizeof(err)), -22);
	ASSERT_EQ(rl_secret_load(&bad, "/nonexistent/token", env_good, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "cannot read token file '/nonexistent/token'");
	rl_secret_load(&bad, NULL, env_bad, err, sizeof(err));

	rl_auth_nonce(ns);
	rl_auth_nonce(nc);
	ASSERT_TRUE(memcmp(ns, nc, RL_NONCE_LEN) != 0);
	rl_auth_client_mac(&good, ns, nc, m1);
	rl_auth_client_mac(&good, ns, nc, m2);
	ASSERT_TRUE(rl_auth_mac_equal(m1, m2));
	rl_auth_client_mac(&bad, ns, nc, m2);
	ASSERT_TRUE(!rl_auth_mac_equal(m1, m2)); /* wrong token */
	rl_auth_server_mac(&good, ns, nc, m3);
	ASSERT_TRUE(!rl_auth_mac_equal(m1, m3)); /* a client proof is no server proof */
	rl_auth_nonce(ns);
	rl_auth_client_mac(&good, ns, nc, m2);
	ASSERT_TRUE(!rl_auth_mac_equal(m1, m2)); /* replay under a new server nonce fails */
}

int main(void)
{
	RUN_TEST(test_addr_order_is_numeric);
	RUN_TEST(test_iface_filter);
	RUN_TEST(test_roster);
	RUN_TEST(test_wire_roundtrip);
	RUN_TEST(test_wire_rejects_garbage);
	RUN_TEST(test_handshake);
	TEST_MAIN_END();
}
