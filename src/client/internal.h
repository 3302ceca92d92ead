/* Between the client and the pool (internal). */
#ifndef TW_CLIENT_INTERNAL_H
#define TW_CLIENT_INTERNAL_H

#include <stdbool.h>

#include "twkit/client.h"

/* The health check before reuse: take in any pending input (a DONE, a FIN,
 * an error) and say whether the client can carry a request now. False if
 * it is ending or ended; when it ended it was freed and on_close ran. */
bool tw__client_usable(tw_client *c);

#endif
