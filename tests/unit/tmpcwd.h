/* A unit suite's scratch directory: each test runs in a fresh one under
 * /tmp (its working directory), removed with everything in it after. */
#ifndef TW_TESTS_TMPCWD_H
#define TW_TESTS_TMPCWD_H

extern char ut_dir[64]; /* the directory, while a test runs */

/* Make /tmp/NAME.XXXXXX and go there (asserts); go back and remove it. */
void ut_cwd_enter(const char *name);
void ut_cwd_leave(void);
/* Write text to the file name (in the scratch directory), asserting it. */
void ut_put(const char *name, const char *text);

#endif
