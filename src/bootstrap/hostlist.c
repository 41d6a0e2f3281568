#include "rlaunch/hostlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rlaunch/log.h"

/* How much of an offending item or list an error message quotes. */
#define QUOTE_MAX 64

/* One bracket group while expanding: the element being walked and the
 * number it is at. Elements were validated before any of this runs.
 */
struct group {
	const char *s;  /* group content, between the brackets */
	size_t len;
	size_t end;     /* end of the current element within s */
	uint64_t v, hi;
	int width;      /* digits of the current element's lower bound */
};

/* Copy at most QUOTE_MAX bytes of s for an error message, printable only. */
static void quote(char *q, size_t qsz, const char *s, size_t len)
{
	size_t n = len < QUOTE_MAX ? len : QUOTE_MAX;
	size_t i;

	if (n > qsz - 4)
		n = qsz - 4;
	for (i = 0; i < n; i++)
		q[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (n < len) {
		memcpy(q + n, "...", 3);
		n += 3;
	}
	q[n] = '\0';
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static int digits_of(uint64_t v)
{
	int d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* A bound: 1..RL_HOSTLIST_DIGITS_MAX decimal digits. -EINVAL when empty or
 * not all digits, -ERANGE when too long.
 */
static int parse_bound(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
	if (len > RL_HOSTLIST_DIGITS_MAX)
		return -ERANGE;
	for (size_t i = 0; i < len; i++)
		x = x * 10 + (uint64_t)(s[i] - '0');
	*v = x;
	return 0;
}

/* One bracket element, "7" or "001-004": bounds and the lower bound's width. */
static int parse_range(const char *s, size_t len, uint64_t *lo, uint64_t *hi,
		       int *width)
{
	const char *dash = memchr(s, '-', len);
	size_t lolen = dash ? (size_t)(dash - s) : len;
	int rc;

	rc = parse_bound(s, lolen, lo);
	if (rc < 0)
		return rc;
	if (dash) {
		rc = parse_bound(dash + 1, len - lolen - 1, hi);
		if (rc < 0)
			return rc;
	} else {
		*hi = *lo;
	}
	*width = (int)lolen;
	return 0;
}

/* Validate a group's content; count its numbers and the widest it prints. */
static int check_group(const char *item, size_t itemlen, const char *s, size_t len,
		       uint64_t *count, size_t *width, char *err, size_t errlen)
{
	char qi[QUOTE_MAX + 4], qe[QUOTE_MAX + 4];
	size_t pos = 0;

	*count = 0;
	*width = 0;
	quote(qi, sizeof(qi), item, itemlen);
	for (;;) {
		const char *comma = memchr(s + pos, ',', len - pos);
		size_t elen = comma ? (size_t)(comma - (s + pos)) : len - pos;
		const char *e = s + pos;
		uint64_t lo = 0, hi = 0;
		int w = 0, rc;

		if (elen == 0) {
			rl_errbuf(err, errlen, "hostlist item '%s' has an empty range inside '[]'", qi);
			return -EINVAL;
		}
		quote(qe, sizeof(qe), e, elen);
		rc = parse_range(e, elen, &lo, &hi, &w);
		if (rc == -ERANGE) {
			rl_errbuf(err, errlen, "hostlist item '%s': '%s' has a number of more than %d digits",
				  qi, qe, RL_HOSTLIST_DIGITS_MAX);
			return -EINVAL;
		}
		if (rc < 0) {
			rl_errbuf(err, errlen, "hostlist item '%s': '%s' is not a number or a lo-hi range of digits",
				  qi, qe);
			return -EINVAL;
		}
		if (lo > hi) {
			rl_errbuf(err, errlen, "hostlist item '%s': range '%s' has lo > hi", qi, qe);
			return -EINVAL;
		}
		*count = sat_add(*count, hi - lo + 1);
		if ((size_t)w > *width)
			*width = (size_t)w;
		if ((size_t)digits_of(hi) > *width)
			*width = (size_t)digits_of(hi);
		if (!comma)
			return 0;
		pos += elen + 1;
	}
}

/* Validate one item; count the names it expands to (saturating). */
static int check_item(const char *s, size_t len, uint64_t *count, char *err,
		      size_t errlen)
{
	char q[QUOTE_MAX + 4];
	size_t namelen = 0, i = 0;
	uint64_t n = 1;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		uint64_t gcount;
		size_t j, gwidth;
		int rc;

		if (c == ']') {
			quote(q, sizeof(q), s, len);
			rl_errbuf(err, errlen, "hostlist item '%s' has a ']' without '['", q);
			return -EINVAL;
		}
		if (isspace(c) || iscntrl(c)) {
			quote(q, sizeof(q), s, len);
			rl_errbuf(err, errlen, "hostlist item '%s' has a space or control character", q);
			return -EINVAL;
		}
		if (c != '[') {
			namelen++;
			i++;
			continue;
		}
		for (j = i + 1; j < len && s[j] != ']' && s[j] != '['; j++)
			;
		quote(q, sizeof(q), s, len);
		if (j == len) {
			rl_errbuf(err, errlen, "hostlist item '%s' has a '[' without ']'", q);
			return -EINVAL;
		}
		if (s[j] == '[') {
			rl_errbuf(err, errlen, "hostlist item '%s' has nested brackets", q);
			return -EINVAL;
		}
		if (j == i + 1) {
			rl_errbuf(err, errlen, "hostlist item '%s' has an empty '[]'", q);
			return -EINVAL;
		}
		rc = check_group(s, len, s + i + 1, j - i - 1, &gcount, &gwidth, err, errlen);
		if (rc < 0)
			return rc;
		n = sat_mul(n, gcount);
		namelen += gwidth;
		i = j + 1;
	}
	if (namelen > RL_HOSTLIST_NAME_MAX) {
		quote(q, sizeof(q), s, len);
		rl_errbuf(err, errlen, "hostlist item '%s' makes host names longer than %d characters",
			  q, RL_HOSTLIST_NAME_MAX);
		return -EINVAL;
	}
	*count = n;
	return 0;
}

/* Length of the item at p: up to a comma outside brackets or the end. Bad
 * brackets are left for check_item to name.
 */
static size_t item_len(const char *p)
{
	size_t depth = 0, i;

	for (i = 0; p[i]; i++) {
		if (p[i] == '[')
			depth++;
		else if (p[i] == ']' && depth)
			depth--;
		else if (p[i] == ',' && !depth)
			break;
	}
	return i;
}

static void group_load(struct group *g, size_t pos)
{
	const char *comma = memchr(g->s + pos, ',', g->len - pos);
	uint64_t lo = 0;

	g->end = comma ? (size_t)(comma - g->s) : g->len;
	parse_range(g->s + pos, g->end - pos, &lo, &g->hi, &g->width);
	g->v = lo;
}

/* Step one group; false when it wrapped back to its first number. */
static bool group_next(struct group *g)
{
	if (g->v < g->hi) {
		g->v++;
		return true;
	}
	if (g->end < g->len) {
		group_load(g, g->end + 1);
		return true;
	}
	group_load(g, 0);
	return false;
}

/* Emit every name of a validated item, leftmost group varying slowest. */
static int expand_item(const char *s, size_t len, struct rl_strv *out)
{
	struct group g[RL_HOSTLIST_NAME_MAX];
	char name[RL_HOSTLIST_NAME_MAX + 1];
	size_t ng = 0, i, k;

	/* validation bounds this: each group prints at least one character */
	for (i = 0; i < len; i++) {
		if (s[i] != '[')
			continue;
		if (ng == RL_HOSTLIST_NAME_MAX)
			return -EINVAL;
		g[ng].s = s + i + 1;
		g[ng].len = (size_t)((const char *)memchr(s + i, ']', len - i) - g[ng].s);
		group_load(&g[ng], 0);
		ng++;
	}
	for (;;) {
		size_t n = 0;

		for (i = 0, k = 0; i < len; i++) {
			int w;

			if (s[i] != '[') {
				if (n >= RL_HOSTLIST_NAME_MAX)
					return -EINVAL;
				name[n++] = s[i];
				continue;
			}
			w = snprintf(name + n, sizeof(name) - n, "%0*llu", g[k].width,
				     (unsigned long long)g[k].v);
			if (w < 0 || (size_t)w >= sizeof(name) - n)
				return -EINVAL;
			n += (size_t)w;
			i += g[k].len + 1;
			k++;
		}
		name[n] = '\0';
		if (rl_strv_push(out, name) < 0)
			return -ENOMEM;
		for (k = ng; k > 0 && !group_next(&g[k - 1]); k--)
			;
		if (k == 0)
			return 0;
	}
}

int rl_hostlist_expand(const char *list, size_t max_hosts, struct rl_strv *out,
		       char *err, size_t errlen)
{
	char q[QUOTE_MAX + 4];
	uint64_t total = 0;
	const char *p;
	int rc;

	if (rl_strv_init(out) < 0)
		return -ENOMEM;
	if (!list || !*list) {
		rl_errbuf(err, errlen, "empty hostlist");
		rc = -EINVAL;
		goto out_release;
	}

	for (p = list;;) {
		size_t len = item_len(p);
		uint64_t count;

		if (len == 0) {
			quote(q, sizeof(q), list, strlen(list));
			rl_errbuf(err, errlen, "hostlist '%s' has an empty item", q);
			rc = -EINVAL;
			goto out_release;
		}
		rc = check_item(p, len, &count, err, errlen);
		if (rc < 0)
			goto out_release;
		total = sat_add(total, count);
		if (!p[len])
			break;
		p += len + 1;
	}
	if (total > (uint64_t)max_hosts) {
		quote(q, sizeof(q), list, strlen(list));
		if (total == UINT64_MAX)
			rl_errbuf(err, errlen, "hostlist '%s' expands to more than %zu hosts",
				  q, max_hosts);
		else
			rl_errbuf(err, errlen, "hostlist '%s' expands to %llu hosts, more than %zu",
				  q, (unsigned long long)total, max_hosts);
		rc = -E2BIG;
		goto out_release;
	}

	for (p = list;;) {
		size_t len = item_len(p);

		rc = expand_item(p, len, out);
		if (rc < 0)
			goto out_release;
		if (!p[len])
			return 0;
		p += len + 1;
	}

out_release:
	rl_strv_release(out);
	return rc;
}
