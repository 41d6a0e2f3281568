/* One coordinator connection (either end) on libuv: frames in, frames out.
 *
 * Reads go through a rl_wire_reader, so the owner sees whole frames only;
 * a frame over the reader's limit or of an unknown type closes the
 * connection with -EMSGSIZE / -EBADMSG. Sends are queued by libuv and own
 * their buffer. rl_peer_close is idempotent; on_closed runs exactly once,
 * after which the owner may free the peer.
 */
#ifndef RLAUNCH_PEER_H
#define RLAUNCH_PEER_H

#include <stdbool.h>
#include <uv.h>

#include "rlaunch/wire.h"

struct rl_peer;

struct rl_peer_ops {
	/** A whole frame. May close the peer. */
	void (*on_frame)(struct rl_peer *p, uint8_t type, const uint8_t *payload, size_t n);
	/** The connection ended: 0 for EOF, else a negative errno / libuv error. */
	void (*on_end)(struct rl_peer *p, int reason);
	/** The handle is closed; the peer's memory may go. */
	void (*on_closed)(struct rl_peer *p);
};

struct rl_peer {
	uv_tcp_t tcp;
	struct rl_wire_reader reader;
	const struct rl_peer_ops *ops;
	void *data;
	char name[80];          /* "addr:port" of the other end, for messages */
	char addr[64];          /* the other end's address alone: who holds connections */
	bool authenticated;
	uint8_t key[32];        /* session key once authenticated */
	uint8_t send_dir, recv_dir;
	uint64_t send_seq, recv_seq;
	bool ended;             /* on_end has run */
	bool closing;
	int index;              /* owner's bookkeeping */
	uint64_t last_rx;       /* uv_now of the last frame received */
	uint64_t last_tx;       /* uv_now of the last frame sent */
};

/** uv_tcp_init on loop; the caller then accepts or connects on p->tcp. */
int rl_peer_init(uv_loop_t *loop, struct rl_peer *p, const struct rl_peer_ops *ops, void *data);
/** Start reading (after accept / connect); fills p->name and p->addr. */
int rl_peer_start(struct rl_peer *p);
/**
 * The handshake is done: allow frames up to RL_WIRE_MAX_FRAME, and from now
 * on seal every frame sent and require a valid seal on every frame received
 * (auth.h: session key, per-direction sequence numbers). A frame with a bad
 * seal ends the connection with -EBADMSG.
 */
void rl_peer_trust(struct rl_peer *p, const uint8_t session_key[32], bool server);
/** Queue w's bytes; w is emptied (its buffer now belongs to the write). */
int rl_peer_send(struct rl_peer *p, struct rl_wbuf *w);
/** Close now; queued writes are dropped. No on_end for a close the owner asked for. */
void rl_peer_close(struct rl_peer *p);
/**
 * Call about every RL_HEARTBEAT_MS / 2 during the job: sends a heartbeat
 * when nothing else went out lately; -ETIMEDOUT when nothing came in for
 * RL_SILENCE_LIMIT_MS (heartbeats are never passed to on_frame).
 */
int rl_peer_keepalive(struct rl_peer *p, uint64_t now);
/** Close after every queued write has gone out. */
void rl_peer_finish(struct rl_peer *p);

#endif
