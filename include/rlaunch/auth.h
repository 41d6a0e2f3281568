/* Proving knowledge of the job secret without sending it (HMAC-SHA256
 * challenge-response, both directions, libsodium).
 *
 *   server -> client  HELLO   server nonce Ns
 *   client -> server  AUTH    client nonce Nc, HMAC(K, "rlaunch-v1 client" Ns Nc)
 *   server -> client  AUTH_OK HMAC(K, "rlaunch-v1 server" Nc Ns)
 *
 * Fresh random nonces on both sides make a recorded exchange useless to
 * replay. Every frame after the handshake carries a MAC under a session key
 * derived from the handshake (rl_auth_session_key), with a sequence number
 * and a direction, so frames cannot be forged, replayed, reordered or
 * reflected on the way. The secret K comes from --token-file, else RLAUNCH_TOKEN, else is
 * generated and shared through PMIx; --insecure uses an empty key (anyone
 * who speaks the protocol gets in) and must be asked for explicitly.
 */
#ifndef RLAUNCH_AUTH_H
#define RLAUNCH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlaunch/wire.h"

#define RL_SECRET_MAX 1024

struct rl_secret {
	uint8_t key[RL_SECRET_MAX];
	size_t len;
	const char *source;   /* "--token-file", "RLAUNCH_TOKEN", "PMIx", "MUNGE", "--insecure" */
	bool munge;           /* authenticate through MUNGE (munge_auth.h), not this key */
};

/** libsodium's one-time initialisation. 0 or -EIO. */
int rl_auth_init(void);

/**
 * The secret from token_file (when not NULL), else from RLAUNCH_TOKEN in
 * envp. Returns 0, -ENOENT when neither is there, or -EINVAL with err set
 * (unreadable, empty or oversized token).
 */
int rl_secret_load(struct rl_secret *s, const char *token_file, char *const *envp,
		   char *err, size_t errlen);
/** 32 random bytes as a fresh secret (hex-encoded, so it can travel as text). */
int rl_secret_generate(struct rl_secret *s);

void rl_auth_nonce(uint8_t nonce[RL_NONCE_LEN]);
void rl_auth_client_mac(const struct rl_secret *s, const uint8_t server_nonce[RL_NONCE_LEN],
			const uint8_t client_nonce[RL_NONCE_LEN], uint8_t mac[RL_MAC_LEN]);
void rl_auth_server_mac(const struct rl_secret *s, const uint8_t server_nonce[RL_NONCE_LEN],
			const uint8_t client_nonce[RL_NONCE_LEN], uint8_t mac[RL_MAC_LEN]);
/**
 * The session key of one connection: HMAC(K, "rlaunch-v1 session" Ns Nc),
 * K being the job secret, or, under MUNGE, the client nonce (which only
 * ever travelled inside encrypted MUNGE credentials).
 */
void rl_auth_session_key(const uint8_t *key, size_t keylen,
			 const uint8_t server_nonce[RL_NONCE_LEN],
			 const uint8_t client_nonce[RL_NONCE_LEN], uint8_t out[RL_MAC_LEN]);
/** HMAC-SHA256 over a direction byte, a sequence number and a frame body. */
void rl_auth_frame_mac(const uint8_t key[RL_MAC_LEN], uint8_t direction, uint64_t seq,
		       const uint8_t *body, size_t len, uint8_t out[RL_MAC_LEN]);

/** Constant-time comparison. */
bool rl_auth_mac_equal(const uint8_t a[RL_MAC_LEN], const uint8_t b[RL_MAC_LEN]);

#endif
