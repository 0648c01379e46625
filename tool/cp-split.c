/*
 * Where a CHAIN:PATH word of mitogen-cp splits: see cp.h. The answer is
 * the parser's at every ':' (the first ':/' that ends a chain, else the
 * last ':' that does), but a word's ':'s are not each put to the parser
 * over the whole text before them: that was quadratic (a 40 KB word of
 * 20,000 ':'s took 20 s). A scan that mirrors the parser's (chain.c,
 * chain-hop.c, chain-spec.c) leaves out the ':'s no chain can end at,
 * and most of the rest are tried on their own hop alone.
 */
#include <errno.h>
#include <string.h>
#include <mitogen/chain.h>
#include "cp.h"

/* What a ':' is to the search. */
enum at_kind {
	AT_FIRST, /* the word's first ':': the text before it may be the
		   * path-safe spelling, so it is tried as it is */
	AT_HEAD,  /* one of the first three ':' of a hop before its '?' */
	AT_SEQ,   /* in an option value: see seq_last() */
	AT_LONE,  /* the first ':' of a blank username= value */
};

struct at {
	size_t i;
	size_t hop;
	enum at_kind kind;
	unsigned group; /* AT_SEQ: 1 from the hop's first image= on */
};

/* A hop of the word: the '/' or ',' before it (none for the first). */
struct hop {
	size_t sep;
	bool chain_start;
};

struct layout {
	const char *w;
	struct at *at;
	size_t n_at;
	struct hop *hop;
	size_t n_hop;
	size_t first_hop; /* the hop holding the word's first ':' */
	long first_slash; /* the first ':' tried that is followed by '/' */
	long last_tried;  /* and the last ':' tried */
	size_t *scratch;  /* room for seq_last() */
};

/* The scan's state: the old one that picks the ':'s tried (bracket,
 * opts: every ':' not inside a '['), and the parser's own. */
struct scan {
	bool bracket, opts;
	bool dead;       /* a fault no longer text can mend: no chain after */
	bool q, eq;      /* after the hop's '?'; after the option's '=' */
	bool image, user, lone;
	size_t depth, item, value;
	unsigned head_colons, value_colons, group;
};

static bool parses(const char *text)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL;
	bool ok = tmp != NULL && mg_chain_parse(tmp, text, &list, &errmsg) == 0;

	talloc_free(tmp);
	return ok;
}

/* The text before 'i' is a chain. */
static bool chain_before(const struct layout *l, size_t i)
{
	char *text = talloc_strndup(NULL, l->w, i);
	bool ok = text != NULL && parses(text);

	talloc_free(text);
	return ok;
}

static bool is_key(const char *w, size_t from, size_t to, const char *key)
{
	return to - from == strlen(key) && memcmp(w + from, key, to - from) == 0;
}

static bool blank(const char *w, size_t from, size_t to)
{
	while (from < to && w[from] == ' ') {
		from++;
	}
	return from == to;
}

static void new_item(struct scan *s, size_t i)
{
	s->eq = false;
	s->item = i;
}

static void new_hop(struct layout *l, struct scan *s, size_t i, bool chain_start)
{
	l->hop[l->n_hop].sep = i;
	l->hop[l->n_hop].chain_start = chain_start;
	l->n_hop++;
	s->q = s->image = s->user = false;
	s->head_colons = s->group = 0;
}

/* An option's '=': image= and username= change what follows. */
static void option(const char *w, struct scan *s, size_t i)
{
	s->eq = true;
	s->value = i + 1;
	s->value_colons = 0;
	s->lone = !s->user && is_key(w, s->item, i, "username");
	s->user = s->user || s->lone;
	if (!s->image && is_key(w, s->item, i, "image")) {
		s->image = true;
		s->group = 1;
	}
}

/* The parser's scan (chain.c's scan_hop) at a byte other than ':'. */
static void step(struct layout *l, struct scan *s, size_t i)
{
	unsigned char c = (unsigned char)l->w[i];

	if (c < 0x20 || c == 0x7f) {
		s->dead = true;
	} else if (s->q) {
		if (c == '&') {
			new_item(s, i + 1);
		} else if (c == '=' && !s->eq) {
			option(l->w, s, i);
		} else if (c == '/' || c == ',') {
			new_hop(l, s, i, c == ',');
		}
	} else if (c == '[' || c == '{') {
		s->depth++;
	} else if (c == ']' || c == '}') {
		s->dead = s->dead || s->depth == 0;
		s->depth -= s->depth > 0;
	} else if (s->depth > 0) {
		s->dead = s->dead || c == '/' || c == '?';
	} else if (c == '?') {
		s->q = true;
		new_item(s, i + 1);
	} else if (c == '/' || c == ',') {
		new_hop(l, s, i, c == ',');
	}
}

/*
 * A ':' at i, counted as the parser would; kept if the old scan tries it
 * ('tried') and a chain may end there. Before the hop's '?' a hop holds
 * at most two ':' outside brackets (ssh:HOST:PORT, setns:KIND:CONTAINER)
 * and none inside an open one; after it, an option's name holds none.
 */
static void colon(struct layout *l, struct scan *s, size_t i, size_t first, bool tried)
{
	enum at_kind kind = AT_SEQ;
	bool keep = false;

	if (!s->q && s->depth == 0) {
		keep = s->head_colons++ < 3;
		kind = AT_HEAD;
	} else if (s->q && s->eq) {
		keep = true;
		if (++s->value_colons == 1 && s->lone && blank(l->w, s->value, i)) {
			kind = AT_LONE;
		}
	}
	if (!tried || i == 0 || (i != first && (!keep || s->dead))) {
		return;
	}
	l->at[l->n_at].i = i;
	l->at[l->n_at].hop = l->n_hop - 1;
	l->at[l->n_at].kind = i == first ? AT_FIRST : kind;
	l->at[l->n_at].group = s->group;
	l->n_at++;
}

static int lay_out(TALLOC_CTX *mem, const char *w, struct layout *l)
{
	const char *first = strchr(w, ':');
	size_t n_colons = 0, n_seps = 1;
	struct scan s;

	for (const char *p = w; *p != '\0'; p++) {
		n_colons += *p == ':';
		n_seps += *p == '/' || *p == ',';
	}
	memset(&s, 0, sizeof(s));
	memset(l, 0, sizeof(*l));
	l->w = w;
	l->first_slash = l->last_tried = -1;
	l->at = talloc_array(mem, struct at, n_colons);
	l->hop = talloc_array(mem, struct hop, n_seps);
	l->scratch = talloc_array(mem, size_t, n_colons);
	if (l->at == NULL || l->hop == NULL || l->scratch == NULL) {
		return -ENOMEM;
	}
	l->hop[0].sep = 0;
	l->hop[0].chain_start = true;
	l->n_hop = 1;
	for (size_t i = 0; w[i] != '\0'; i++) {
		char c = w[i];

		if (c == ':') {
			/* Neither scan's state changes at a ':'. */
			if (!s.bracket && l->first_slash < 0 && w[i + 1] == '/') {
				l->first_slash = (long)i;
			}
			l->last_tried = !s.bracket ? (long)i : l->last_tried;
			if (w + i == first) {
				l->first_hop = l->n_hop - 1;
			}
			colon(l, &s, i, (size_t)(first - w), !s.bracket);
			continue;
		}
		if (s.opts) {
			s.opts = c != '/' && c != ',';
		} else if (c == '[' || c == ']') {
			s.bracket = c == '[';
		} else if (c == '?' && !s.bracket) {
			s.opts = true;
		}
		step(l, &s, i);
	}
	return 0;
}

/*
 * Whether the hop of 'a' allows a chain to end at it: the hop's text
 * before it, put behind a hop that parses ("local/", or "local/local,"
 * where the hop starts a chain), is a chain. It is a hop-sized parse, and
 * what fails it fails the whole text: the hop is read the same there
 * (the '/' keeps the path-safe spelling off, as a ':' before it does),
 * and no more hops or chains come of it. The first hop, and the first
 * ':' of the word, are parsed with all before them.
 */
static bool hop_allows(const struct layout *l, const struct at *a)
{
	const struct hop *h = &l->hop[a->hop];
	char *text;
	bool ok;

	if (a->hop == 0 || a->kind == AT_FIRST) {
		return chain_before(l, a->i);
	}
	text = talloc_asprintf(NULL, "%s%.*s", h->chain_start ? "local/local," : "local/",
			       (int)(a->i - h->sep - 1), l->w + h->sep + 1);
	ok = text != NULL && parses(text);
	talloc_free(text);
	return ok;
}

/* Whether a chain ends at 'a', given hop_allows(). */
static bool whole(const struct layout *l, const struct at *a)
{
	return a->hop == 0 || a->kind == AT_FIRST || chain_before(l, a->i);
}

/*
 * The last hop a chain may end in. The text before a hop's '/' or ','
 * is a chain if any longer text before a ':' is one (the hops it holds
 * read the same, its last one is only trimmed, it makes fewer chains and
 * hops), so the hops where it is form a prefix: halve. Only texts that
 * hold the first ':' count (the path-safe spelling has none).
 */
static size_t last_live_hop(const struct layout *l)
{
	size_t lo = l->first_hop, hi = l->n_hop - 1;

	/* Most often every hop is whole: one parse. */
	if (lo < hi && !chain_before(l, l->hop[hi].sep)) {
		hi--;
	} else {
		lo = hi;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;

		if (chain_before(l, l->hop[mid].sep)) {
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

/* Whether a quote or backslash (or a '%', which may spell one) comes
 * before at[last]'s ':' in its hop: the parser reads word-list values
 * (chain-value.c) with them. */
static bool quoted(const struct layout *l, size_t first, size_t last)
{
	size_t from = l->hop[l->at[first].hop].sep;

	for (size_t i = from; i < l->at[last].i; i++) {
		if (strchr("'\"\\%", l->w[i]) != NULL) {
			return true;
		}
	}
	return false;
}

/*
 * The last ':' of 'group' in option values of the hop of at[a, b) that
 * hop_allows(), or -1. It allows a prefix of them: a value cut at a later
 * ':' holds the earlier one and all before it, and what the parser
 * refuses in a value (a bad %XX, a control byte, a space or a leading '-'
 * in username=, anything but digits in port=) stays wrong as it grows,
 * but for username='s emptiness (AT_LONE, tried alone); image= turns
 * "needs a container" into "not both", so it starts group 1.
 */
static long seq_last(const struct layout *l, size_t a, size_t b, unsigned group)
{
	size_t *m = l->scratch, n = 0, lo = 0, hi;

	for (size_t j = a; j < b; j++) {
		if (l->at[j].kind == AT_SEQ && l->at[j].group == group) {
			m[n++] = j;
		}
	}
	if (n > 0 && quoted(l, m[0], m[n - 1])) {
		/* Quotes in word lists (ssh_args=...): a quote closed past
		 * a ':' makes a longer value right where a shorter one was
		 * wrong, so no halving: each in turn, from the last. */
		while (n > 0 && !hop_allows(l, &l->at[m[n - 1]])) {
			n--;
		}
		return n > 0 ? (long)m[n - 1] : -1;
	}
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (hop_allows(l, &l->at[m[mid]])) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo > 0 ? (long)m[lo - 1] : -1;
}

/* The last ':' of at[a, b), all in one hop, that ends a chain, or -1.
 * When the whole text refuses what the hop allows in an option value,
 * the fault is outside the hop's options (the hops before, the count of
 * chains): it refuses every ':' there. */
static long last_in_hop(const struct layout *l, size_t a, size_t b)
{
	long rep[2] = { seq_last(l, a, b, 0), seq_last(l, a, b, 1) };
	bool opts_dead = false;

	for (size_t j = b; j-- > a;) {
		const struct at *x = &l->at[j];
		bool opt = x->kind == AT_SEQ || x->kind == AT_LONE;

		if ((x->kind == AT_SEQ && (long)j != rep[x->group]) || (opt && opts_dead)
		    || !hop_allows(l, x)) {
			continue;
		}
		if (whole(l, x)) {
			return (long)x->i;
		}
		opts_dead = opts_dead || opt;
	}
	return -1;
}

/* The first ':' followed by '/' that ends a chain, else the last ':'
 * that does, or -1. */
static long chain_end(const struct layout *l)
{
	size_t live = last_live_hop(l), end = 0, b;

	for (; end < l->n_at && l->at[end].hop <= live; end++) {
		const struct at *x = &l->at[end];

		if (l->w[x->i + 1] == '/' && hop_allows(l, x) && whole(l, x)) {
			return (long)x->i;
		}
	}
	for (b = end; b > 0;) {
		size_t a = b;
		long r;

		while (a > 0 && l->at[a - 1].hop == l->at[b - 1].hop) {
			a--;
		}
		if ((r = last_in_hop(l, a, b)) >= 0) {
			return r;
		}
		b = a;
	}
	return -1;
}

/* Why 'word' has no chain: the parser's message for the text before its
 * first ":/" (an absolute path was meant), else before its last ':'
 * tried (the most text the chain may be: "ssh:we%20b:f" is about the
 * space, not "ssh needs a host"). */
static char *no_chain(TALLOC_CTX *mem_ctx, const char *word, const struct layout *l)
{
	long c = l->first_slash >= 0 ? l->first_slash : l->last_tried;
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL, *text;

	text = talloc_strndup(mem_ctx, word, c > 0 ? (size_t)c : strlen(word));
	if (text == NULL) {
		return NULL;
	}
	if (mg_chain_parse(mem_ctx, text, &list, &errmsg) == 0) {
		return talloc_asprintf(mem_ctx, "'%s': no chain before a ':'", word);
	}
	/* Named as mitogen-run names a chain it cannot parse. */
	return talloc_asprintf(mem_ctx, "chain '%s': %s", text, errmsg != NULL ? errmsg : "bad chain");
}

int mg_cp_split(TALLOC_CTX *mem_ctx, const char *word, char **_chain, char **_path,
		char **_errmsg)
{
	TALLOC_CTX *tmp;
	struct layout l;
	long best;
	int r = 1;

	*_chain = *_path = *_errmsg = NULL;
	if (word[0] == '/' || word[0] == '.' || strchr(word, ':') == NULL) {
		return 0;
	}
	if ((tmp = talloc_new(NULL)) == NULL || lay_out(tmp, word, &l) != 0) {
		talloc_free(tmp);
		return -ENOMEM;
	}
	best = chain_end(&l);
	/* "ssh:web1/sudo:root?usr=x:/etc/f" is a mistyped chain before an
	 * absolute path, not ssh:web1/sudo and a relative path: a relative
	 * path holding ":/" must start with "./". */
	if (best < 0 || (l.first_slash >= 0 && word[best + 1] != '/' &&
			 strncmp(word + best + 1, "./", 2) != 0)) {
		*_errmsg = no_chain(mem_ctx, word, &l);
		if (best >= 0 && *_errmsg != NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "%s (a relative path holding ':/' is "
						   "written ./PATH)", *_errmsg);
		}
		r = -EINVAL;
	} else {
		*_chain = talloc_strndup(mem_ctx, word, (size_t)best);
		*_path = talloc_strdup(mem_ctx, word[best + 1] != '\0' ? word + best + 1 : ".");
		r = *_chain != NULL && *_path != NULL ? 1 : -ENOMEM;
	}
	talloc_free(tmp);
	return r;
}
