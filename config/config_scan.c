/* config_scan.h: a small lexer that follows libconfig 1.5's scanner (comments,
 * strings, @include lines, numbers) closely enough to find the tokens it
 * mishandles, and names the setting each one belongs to. */
#include "config_scan.h"

#include "../lib/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEPTH_MAX 10 /* libconfig's own include nesting limit */
#define NAME_LEN 256
#define TOKEN_LEN 128

struct scan {
	FILE *f;
	const char *path, *include_dir;
	unsigned line;
	int depth;
	int line_start;         /* only blanks so far on this line */
	char group[NAME_LEN];   /* dotted path of the enclosing groups and lists */
	char pending[NAME_LEN]; /* the setting whose value is being read */
	int in_list;            /* lists/arrays open: their groups have no names */
	char **seen;            /* full names of the settings of this file so far */
	unsigned *seen_line;
	size_t n_seen;
	struct error *e;
};

static int scan_file(const char *path, const char *include_dir, int depth, struct error *e);

static int refuse(struct scan *s, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct scan *s, int errnum, const char *fmt, ...)
{
	char why[512], key[2 * NAME_LEN + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(key, sizeof(key), "%s%s%s", s->group, *s->group && *s->pending ? "." : "",
		 s->pending);
	return err_set(s->e, UPD_EXIT_USAGE, errnum, "%s:%u: %s%s%s", s->path, s->line, key,
		       *key ? ": " : "", why);
}

/* Next byte, counting lines; a NUL is refused here, wherever it is. */
static int next(struct scan *s, int *c)
{
	*c = getc(s->f);
	if (*c == '\0')
		return refuse(s, EINVAL, "contains a NUL byte");
	if (*c == '\n') {
		s->line++;
		s->line_start = 1;
	}
	return 0;
}

/* libconfig refuses a setting given twice with "duplicate setting name" and
 * no name: found here, the message can say which and where it was first. */
static int setting(struct scan *s)
{
	char full[2 * NAME_LEN + 2];
	char **seen;
	unsigned *lines;

	if (!*s->pending || s->in_list)
		return 0;
	snprintf(full, sizeof(full), "%s%s%s", s->group, *s->group ? "." : "", s->pending);
	for (size_t i = 0; i < s->n_seen; i++)
		if (strcmp(s->seen[i], full) == 0)
			return refuse(s, EINVAL, "set twice (first on line %u)", s->seen_line[i]);
	seen = realloc(s->seen, (s->n_seen + 1) * sizeof(*seen));
	if (seen)
		s->seen = seen;
	lines = realloc(s->seen_line, (s->n_seen + 1) * sizeof(*lines));
	if (lines)
		s->seen_line = lines;
	if (!seen || !lines || !(s->seen[s->n_seen] = strdup(full)))
		return err_oom(s->e, NULL);
	s->seen_line[s->n_seen++] = s->line;
	return 0;
}

static void push(struct scan *s)
{
	size_t n = strlen(s->group);
	snprintf(s->group + n, sizeof(s->group) - n, "%s%s", n ? "." : "",
		 *s->pending ? s->pending : "?");
	s->pending[0] = '\0';
}

static void pop(struct scan *s)
{
	char *dot = strrchr(s->group, '.');
	*(dot ? dot : s->group) = '\0';
	s->pending[0] = '\0';
}

/* A quoted string (the opening quote read); into buf when given. */
static int string(struct scan *s, char *buf, size_t size)
{
	size_t n = 0;
	int c, r;

	for (;;) {
		if ((r = next(s, &c)) < 0)
			return r;
		if (c == EOF || c == '"')
			break;
		if (c == '\\' && ((r = next(s, &c)) < 0 || c == EOF))
			return r;
		if (buf && n + 1 < size)
			buf[n++] = (char)c;
	}
	if (buf)
		buf[n] = '\0';
	s->line_start = 0; /* what follows on this line is not at its start */
	return 0;
}

static int comment_block(struct scan *s)
{
	int c, prev = 0, r;

	while ((r = next(s, &c)) == 0 && c != EOF && !(prev == '*' && c == '/'))
		prev = c;
	s->line_start = 0;
	return r;
}

static int comment_line(struct scan *s)
{
	int c, r;

	while ((r = next(s, &c)) == 0 && c != EOF && c != '\n')
		;
	return r;
}

/* "@include" at the start of a line, then blanks and a quoted file name. */
static int include(struct scan *s)
{
	char word[9], file[PATH_MAX], *full = NULL;
	int c, r;
	size_t n = 0;
	unsigned line = s->line;
	struct stat st;

	while (n < 8 && (r = next(s, &c)) == 0 && c != EOF && c != '\n')
		word[n++] = (char)c;
	word[n] = '\0';
	if (strcmp(word, "include ") != 0 && strcmp(word, "include\t") != 0)
		return 0; /* not an include: libconfig will say what it is */
	while ((r = next(s, &c)) == 0 && (c == ' ' || c == '\t'))
		;
	if (r < 0 || c != '"')
		return r;
	if ((r = string(s, file, sizeof(file))) < 0)
		return r;
	/* libconfig 1.5 puts include_dir in front of any name, absolute or not. */
	if (s->include_dir) {
		if (asprintf(&full, "%s/%s", s->include_dir, file) < 0)
			return err_oom(s->e, NULL);
	}
	const char *p = full ? full : file;
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		s->line = line; /* where the directive starts, for the message */
		r = refuse(s, EISDIR, "@include \"%s\": %s", file, strerror(EISDIR));
	}
	else if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && s->depth < DEPTH_MAX)
		r = scan_file(p, s->include_dir, s->depth + 1, s->e);
	/* A missing file is libconfig's to report; devices and pipes are not
	 * read here, so the scan cannot block on them. */
	free(full);
	return r;
}

/* libconfig 1.5 reads a decimal literal with atoi() and a hex one into an
 * int: without an L suffix, anything beyond 32 bits is cut without a word. */
static int number(struct scan *s, int first)
{
	char tok[TOKEN_LEN];
	size_t n = 0;
	int c = first, r;

	for (;;) {
		if (n + 1 < sizeof(tok))
			tok[n++] = (char)c;
		c = getc(s->f);
		int exp_sign = (c == '+' || c == '-') && n > 0 && (tok[n - 1] == 'e' || tok[n - 1] == 'E') &&
			       !(n > 2 && (tok[1] == 'x' || tok[1] == 'X'));
		if (!(c == '.' || c == '_' || exp_sign || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			ungetc(c, s->f);
			break;
		}
	}
	tok[n] = '\0';
	const char *digits = tok + (tok[0] == '+' || tok[0] == '-');
	int hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
	if (tok[n - 1] == 'L' || strchr(tok, '.') || (!hex && strpbrk(tok, "eE")))
		return 0; /* 64-bit or float: libconfig reads those right */
	char *end;
	errno = 0;
	if (hex) {
		unsigned long long v = strtoull(tok, &end, 16);
		r = *end || (errno != ERANGE && v <= 0xffffffffull);
	} else {
		long long v = strtoll(tok, &end, 10);
		r = *end || (errno != ERANGE && v >= INT_MIN && v <= INT_MAX);
	}
	if (r)
		return 0; /* in range, or not a number libconfig accepts */
	return refuse(s, EINVAL, "%s does not fit in 32 bits (libconfig would cut it short)",
		      tok);
}

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '*';
}

static int name(struct scan *s, int first)
{
	size_t n = 0;
	int c = first;

	do {
		if (n + 1 < sizeof(s->pending))
			s->pending[n++] = (char)c;
		c = getc(s->f);
	} while (is_name_char(c));
	s->pending[n] = '\0';
	ungetc(c, s->f);
	return 0;
}

static int token(struct scan *s, int c)
{
	int peek;

	switch (c) {
	case '#':
		return comment_line(s);
	case '/':
		peek = getc(s->f);
		if (peek == '/')
			return comment_line(s);
		if (peek == '*')
			return comment_block(s);
		ungetc(peek, s->f);
		return 0;
	case '"':
		return string(s, NULL, 0);
	case '=':
	case ':':
		return setting(s);
	case '(':
	case '[':
		s->in_list++;
		push(s);
		return 0;
	case '{':
		push(s);
		return 0;
	case ')':
	case ']':
		s->in_list -= s->in_list > 0;
		pop(s);
		return 0;
	case '}':
		pop(s);
		return 0;
	case ';':
		s->pending[0] = '\0';
		return 0;
	}
	if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.')
		return number(s, c);
	if (is_name_char(c))
		return name(s, c);
	return 0;
}

static int scan(struct scan *s)
{
	int c, r;

	while ((r = next(s, &c)) == 0 && c != EOF) {
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		int at_start = s->line_start;
		s->line_start = 0;
		if (c == '@' && at_start)
			r = include(s);
		else
			r = token(s, c);
		if (r < 0)
			return r;
	}
	if (r == 0 && ferror(s->f))
		r = err_set(s->e, UPD_EXIT_USAGE, EIO, "%s: read error", s->path);
	return r;
}

static int scan_file(const char *path, const char *include_dir, int depth, struct error *e)
{
	struct scan s = {.path = path, .include_dir = include_dir, .line = 1, .depth = depth,
			 .line_start = 1, .e = e};
	int r;

	s.f = fopen(path, "re");
	if (!s.f)
		return 0; /* unreadable: libconfig reports it, as before */
	/* Whoever may write the config (or a file it includes) decides what we
	 * trust and run: lib/trust.h. */
	r = trust_path(path, "refusing the config file", UPD_EXIT_USAGE, e);
	if (r == 0)
		r = scan(&s);
	fclose(s.f);
	for (size_t i = 0; i < s.n_seen; i++)
		free(s.seen[i]);
	free(s.seen);
	free(s.seen_line);
	return r;
}

int config_scan(const char *path, const char *include_dir, struct error *e)
{
	return scan_file(path, include_dir, 0, e);
}
