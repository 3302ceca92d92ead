/* twkit probe: regexes (regex.h) on PCRE2. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/regex.h"

/* Go's syntax repeats an anchor ("^+OK", which Debian's own blackbox.yml
 * has): PCRE2 refuses a quantifier after ^ or $ unless it is in a group,
 * so one that is quantified becomes (?:^): the same match. Escapes and
 * character classes are copied as they are. */
static char *go_anchors(const char *text, size_t len, size_t *outlen)
{
    char *out = malloc(len * 5 + 1), *o = out;
    bool in_class = false;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\\' && i + 1 < len) {
            *o++ = ch;
            *o++ = text[++i];
        } else if (in_class) {
            *o++ = ch;
            if (ch == '[' && i + 1 < len && text[i + 1] == ':') { /* [:alpha:] */
                while (++i < len && !(text[i] == ']' && text[i - 1] == ':'))
                    *o++ = text[i];
                if (i < len)
                    *o++ = text[i];
            } else {
                in_class = ch != ']';
            }
        } else if (ch == '[') {
            *o++ = ch;
            in_class = true;
            /* a ']' first in the class (after a '^' too) is a member */
            if (i + 1 < len && text[i + 1] == '^')
                *o++ = text[++i];
            if (i + 1 < len && text[i + 1] == ']')
                *o++ = text[++i];
        } else if ((ch == '^' || ch == '$') && i + 1 < len && strchr("*+?{", text[i + 1])) {
            o += sprintf(o, "(?:%c)", ch);
        } else {
            *o++ = ch;
        }
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

int tp_regex_compile(struct tp_regex *re, const char *text, size_t len, char *why,
                     size_t whylen)
{
    int code;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[160];

    memset(re, 0, sizeof(*re));
    size_t golen;
    char *go = go_anchors(text, len, &golen);
    if (!go)
        return -ENOMEM;
    re->code = pcre2_compile((PCRE2_SPTR)go, golen, 0, &code, &off, NULL);
    free(go);
    if (!re->code) {
        if (code == PCRE2_ERROR_NOMEMORY)
            return -ENOMEM;
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(why, whylen, "%s at offset %zu", (const char *)msg, (size_t)off);
        return -EINVAL;
    }
    if (!(re->text = malloc(len + 1))) {
        tp_regex_free(re);
        return -ENOMEM;
    }
    memcpy(re->text, text, len);
    re->text[len] = '\0';
    return 0;
}

bool tp_regex_groups(const struct tp_regex *re, const char *s, size_t len, struct tp_span *g,
                     unsigned n)
{
    pcre2_match_data *md;
    pcre2_match_context *mc;
    int rc;

    if (!re->code)
        return false;
    if (!(md = pcre2_match_data_create_from_pattern(re->code, NULL)))
        return false;
    if (!(mc = pcre2_match_context_create(NULL))) {
        pcre2_match_data_free(md);
        return false;
    }
    pcre2_set_match_limit(mc, TP_REGEX_MATCH_LIMIT);
    rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, mc);
    if (rc > 0 && g) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (unsigned i = 0; i < n; i++) {
            if (i < (unsigned)rc && ov[2 * i] != PCRE2_UNSET) {
                g[i].off = (long)ov[2 * i];
                g[i].len = (long)(ov[2 * i + 1] - ov[2 * i]);
            } else {
                g[i].off = g[i].len = -1;
            }
        }
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc > 0;
}

bool tp_regex_match(const struct tp_regex *re, const char *s, size_t len)
{
    return tp_regex_groups(re, s, len, NULL, 0);
}

unsigned tp_regex_ngroups(const struct tp_regex *re)
{
    uint32_t n = 0;

    if (!re->code || pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
        return 0;
    return n;
}

int tp_regex_group_named(const struct tp_regex *re, const char *name, size_t len)
{
    char buf[256]; /* longer than any name PCRE2 accepts (32, or 128 in newer versions) */
    int n;

    if (!re->code || len == 0 || len >= sizeof(buf) || memchr(name, '\0', len))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)buf);
    return n > 0 ? n : -1;
}

void tp_regex_free(struct tp_regex *re)
{
    if (re->code)
        pcre2_code_free(re->code);
    free(re->text);
    re->code = NULL;
    re->text = NULL;
}
