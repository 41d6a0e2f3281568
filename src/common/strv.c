#include "rlaunch/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rl_strv_init(struct rl_strv *s)
{
	s->n = 0;
	s->cap = 8;
	s->v = calloc(s->cap, sizeof(char *));
	return s->v ? 0 : -ENOMEM;
}

void rl_strv_release(struct rl_strv *s)
{
	if (!s->v)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int reserve(struct rl_strv *s, size_t extra)
{
	if (s->n + extra + 1 <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 8;
	while (s->n + extra + 1 > cap)
		cap *= 2;
	char **v = realloc(s->v, cap * sizeof(char *));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

int rl_strv_push(struct rl_strv *s, const char *str)
{
	char *copy;
	if (reserve(s, 1) < 0 || !(copy = strdup(str)))
		return -ENOMEM;
	s->v[s->n++] = copy;
	s->v[s->n] = NULL;
	return 0;
}

int rl_strv_push_all(struct rl_strv *s, char *const *list)
{
	for (; list && *list; list++)
		if (rl_strv_push(s, *list) < 0)
			return -ENOMEM;
	return 0;
}

static int key_matches(const char *entry, const char *key, size_t keylen)
{
	return strncmp(entry, key, keylen) == 0 && entry[keylen] == '=';
}

const char *rl_env_lookup(char *const *envp, const char *key)
{
	size_t keylen = strlen(key);
	for (; envp && *envp; envp++)
		if (key_matches(*envp, key, keylen))
			return *envp + keylen + 1;
	return NULL;
}

static int set_entry(struct rl_strv *env, const char *key, size_t keylen,
		     const char *value, int replace)
{
	size_t vlen = strlen(value);
	char *entry = malloc(keylen + vlen + 2);
	if (!entry)
		return -ENOMEM;
	memcpy(entry, key, keylen);
	entry[keylen] = '=';
	memcpy(entry + keylen + 1, value, vlen + 1);

	for (size_t i = 0; i < env->n; i++) {
		if (key_matches(env->v[i], key, keylen)) {
			if (replace) {
				free(env->v[i]);
				env->v[i] = entry;
			} else {
				free(entry);
			}
			return 0;
		}
	}
	if (reserve(env, 1) < 0) {
		free(entry);
		return -ENOMEM;
	}
	env->v[env->n++] = entry;
	env->v[env->n] = NULL;
	return 0;
}

int rl_env_set(struct rl_strv *env, const char *key, const char *value)
{
	return set_entry(env, key, strlen(key), value, 1);
}

int rl_env_set_default(struct rl_strv *env, const char *key, const char *value)
{
	return set_entry(env, key, strlen(key), value, 0);
}

int rl_env_put(struct rl_strv *env, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment)
		return -EINVAL;
	return set_entry(env, assignment, (size_t)(eq - assignment), eq + 1, 1);
}

void rl_env_unset(struct rl_strv *env, const char *key)
{
	size_t keylen = strlen(key), out = 0;
	for (size_t i = 0; i < env->n; i++) {
		if (key_matches(env->v[i], key, keylen))
			free(env->v[i]);
		else
			env->v[out++] = env->v[i];
	}
	env->n = out;
	if (env->v)
		env->v[out] = NULL;
}
