/* twkit probe: the one regular-expression dialect of every config key,
 * twkit's YAML and blackbox.yml alike: Go's RE2 syntax as blackbox_exporter
 * users write it (\d, (?i), [[:alpha:]], non-greedy *?), compiled by PCRE2,
 * which accepts RE2's syntax for all of that. PCRE2 also takes what RE2
 * refuses (backreferences, lookaround); we do not refuse those, but a
 * match is bounded (TP_REGEX_MATCH_LIMIT) so no pattern can spin.
 */
#ifndef TW_PROBE_REGEX_H
#define TW_PROBE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define TP_REGEX_MAX_GROUPS 10 /* ${0} to ${9} */
#define TP_REGEX_MATCH_LIMIT 100000u

struct tp_regex {
    char *text;   /* as written (malloc'd); NULL: none */
    void *code;   /* pcre2_code */
};

/* Compile text (len bytes). Returns 0, or -EINVAL with the compiler's
 * message and offset in why, or -ENOMEM. */
int tp_regex_compile(struct tp_regex *re, const char *text, size_t len, char *why,
                     size_t whylen);
/* Whether re matches somewhere in the len bytes at s. A match that runs
 * out of its limit is no match. */
bool tp_regex_match(const struct tp_regex *re, const char *s, size_t len);
/* The same, and the spans (offset, length; -1 if unset) of its first n
 * groups, group 0 the whole match. */
struct tp_span {
    long off, len;
};
bool tp_regex_groups(const struct tp_regex *re, const char *s, size_t len, struct tp_span *g,
                     unsigned n);
/* How many capturing groups re has (group 0, the whole match, not
 * counted). */
unsigned tp_regex_ngroups(const struct tp_regex *re);
/* The number of the group named by the len bytes at name ((?P<name>...)
 * or (?<name>...)), or -1 if there is none. */
int tp_regex_group_named(const struct tp_regex *re, const char *name, size_t len);
void tp_regex_free(struct tp_regex *re);

#endif
