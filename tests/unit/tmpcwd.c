/* tmpcwd.h */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpcwd.h"

char ut_dir[64];
static char oldcwd[4096];

void ut_cwd_enter(const char *name)
{
    snprintf(ut_dir, sizeof(ut_dir), "/tmp/%s.XXXXXX", name);
    cr_assert_not_null(mkdtemp(ut_dir));
    cr_assert_not_null(getcwd(oldcwd, sizeof(oldcwd)));
    cr_assert_eq(chdir(ut_dir), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

void ut_cwd_leave(void)
{
    if (chdir(oldcwd) != 0)
        (void)!chdir("/");
    nftw(ut_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void ut_put(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");

    cr_assert_not_null(f, "%s: %s", name, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}
