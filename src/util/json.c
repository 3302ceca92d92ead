/* JSON output helpers (util/json.h). */
#include "util/json.h"

void tu_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void tu_json_num_or_null(FILE *f, double v, int decimals, bool known)
{
    if (known)
        fprintf(f, "%.*f", decimals, v);
    else
        fputs("null", f);
}
