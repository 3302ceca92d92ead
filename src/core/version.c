/* The library's version at run time (twkit/version.h). */
#include "twkit/version.h"

const char *tw_version(void) { return TW_VERSION_STRING; }

unsigned tw_version_number(void) { return TW_VERSION_NUMBER; }
