#include "rlaunch/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rlaunch/log.h"

int rl_auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static int set_key(struct rl_secret *s, const char *text, size_t len, const char *source,
		   char *err, size_t errlen)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len == 0) {
		rl_errbuf(err, errlen, "the job token from %s is empty", source);
		return -EINVAL;
	}
	if (len > RL_SECRET_MAX) {
		rl_errbuf(err, errlen, "the job token from %s is longer than %d bytes", source,
			  RL_SECRET_MAX);
		return -EINVAL;
	}
	memcpy(s->key, text, len);
	s->len = len;
	s->source = source;
	return 0;
}

int rl_secret_load(struct rl_secret *s, const char *token_file, char *const *envp,
		   char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (token_file) {
		char buf[RL_SECRET_MAX + 2];
		ssize_t n;
		int fd = open(token_file, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			rl_errbuf(err, errlen, "cannot read token file '%s': %s", token_file,
				  strerror(errno));
			return -EINVAL;
		}
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 0) {
			rl_errbuf(err, errlen, "cannot read token file '%s': %s", token_file,
				  strerror(errno));
			return -EINVAL;
		}
		return set_key(s, buf, (size_t)n, "--token-file", err, errlen);
	}
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "RLAUNCH_TOKEN=", 14) == 0)
			return set_key(s, *envp + 14, strlen(*envp + 14), "RLAUNCH_TOKEN", err, errlen);
	return -ENOENT;
}

int rl_secret_generate(struct rl_secret *s)
{
	uint8_t raw[32];

	memset(s, 0, sizeof(*s));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex((char *)s->key, sizeof(s->key), raw, sizeof(raw));
	s->len = 2 * sizeof(raw);
	s->source = "PMIx";
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

void rl_auth_nonce(uint8_t nonce[RL_NONCE_LEN])
{
	randombytes_buf(nonce, RL_NONCE_LEN);
}

static void mac(const struct rl_secret *s, const char *label, const uint8_t *a,
		const uint8_t *b, uint8_t out[RL_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, s->key, s->len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, a, RL_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, b, RL_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void rl_auth_client_mac(const struct rl_secret *s, const uint8_t server_nonce[RL_NONCE_LEN],
			const uint8_t client_nonce[RL_NONCE_LEN], uint8_t out[RL_MAC_LEN])
{
	mac(s, "rlaunch-v1 client", server_nonce, client_nonce, out);
}

void rl_auth_server_mac(const struct rl_secret *s, const uint8_t server_nonce[RL_NONCE_LEN],
			const uint8_t client_nonce[RL_NONCE_LEN], uint8_t out[RL_MAC_LEN])
{
	mac(s, "rlaunch-v1 server", client_nonce, server_nonce, out);
}

bool rl_auth_mac_equal(const uint8_t a[RL_MAC_LEN], const uint8_t b[RL_MAC_LEN])
{
	return sodium_memcmp(a, b, RL_MAC_LEN) == 0;
}

void rl_auth_session_key(const uint8_t *key, size_t keylen,
			 const uint8_t server_nonce[RL_NONCE_LEN],
			 const uint8_t client_nonce[RL_NONCE_LEN], uint8_t out[RL_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	static const char label[] = "rlaunch-v1 session";

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_update(&st, server_nonce, RL_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, client_nonce, RL_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void rl_auth_frame_mac(const uint8_t key[RL_MAC_LEN], uint8_t direction, uint64_t seq,
		       const uint8_t *body, size_t len, uint8_t out[RL_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t head[9];

	head[0] = direction;
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)(seq >> (56 - 8 * i));
	crypto_auth_hmacsha256_init(&st, key, RL_MAC_LEN);
	crypto_auth_hmacsha256_update(&st, head, sizeof(head));
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}
