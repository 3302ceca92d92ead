/* stubs until the hazards land */
#include <stdio.h>
#include "lab/hz_lib.h"
static void stub(struct tw_hazard_result *r) { snprintf(r->err, sizeof(r->err), "not built yet"); }
void hz_run_lost_ack(struct tw_hazard_result *r, const struct tw_hazard_opts *o) { stub(r); }
void hz_run_duplicate(struct tw_hazard_result *r, const struct tw_hazard_opts *o) { stub(r); }
void hz_run_abort(struct tw_hazard_result *r, const struct tw_hazard_opts *o) { stub(r); }
void hz_run_lost_rst(struct tw_hazard_result *r, const struct tw_hazard_opts *o) { stub(r); }
