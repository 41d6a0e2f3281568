/* libFuzzer: bytes from a stranger on the coordinator port, and frames from
 * an authenticated peer or a worker stage. Split into frames, decode each
 * as every message type; nothing may crash, over-read or leak. */
#include <stdint.h>
#include <stdlib.h>

#include "rlaunch/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_wire_reader r;
	const uint8_t *p;
	size_t n;
	uint8_t type;

	for (int trusted = 0; trusted < 2; trusted++) {
		rl_wire_reader_init(&r, trusted ? RL_WIRE_MAX_FRAME : RL_WIRE_MAX_PREAUTH);
		/* in two reads, as TCP may deliver it */
		size_t half = size / 2;
		int rc = rl_wire_reader_feed(&r, data, half);
		while (rc == 0 && rl_wire_reader_next(&r, &type, &p, &n) == 1)
			;
		rc = rl_wire_reader_feed(&r, data + half, size - half);
		while (rc == 0 && rl_wire_reader_next(&r, &type, &p, &n) == 1) {
			struct rl_msg_hello h;
			struct rl_msg_auth a;
			struct rl_node_info info;
			struct rl_msg_roster ro;
			struct rl_wire_failure f;
			struct rl_msg_final fin;
			struct rl_check_addr *ca;
			struct rl_check_result *cr;
			uint8_t mac[RL_MAC_LEN];
			char reason[RL_REASON_MAX + 1], cred[RL_WIRE_MUNGE_MAX + 1];
			uint32_t v;
			uint16_t ver;
			int status;
			size_t count;

			rl_wire_get_hello(p, n, &h);
			rl_wire_get_auth(p, n, &a);
			rl_wire_get_auth_ok(p, n, mac);
			rl_wire_get_join(p, n, &info);
			if (rl_wire_get_roster(p, n, &ro) == 0)
				free(ro.nodes);
			rl_wire_get_failure(p, n, &f);
			rl_wire_get_u32(p, n, &v);
			rl_wire_get_final(p, n, &fin);
			rl_wire_get_reject(p, n, &status, reason, sizeof(reason));
			rl_wire_get_munge(p, n, &ver, cred);
			if (rl_wire_get_check_addrs(p, n, 4096, &ca, &count) == 0)
				free(ca);
			if (rl_wire_get_check_results(p, n, 4096, &cr, &count) == 0)
				free(cr);
		}
		rl_wire_reader_release(&r);
	}
	return 0;
}
