/* The TCP facts twkit is built on, measured across the lab's veth: the
 * same table `twkit facts` runs (src/lab/facts.c), each fact in a lab of
 * its own, asserting what it measured. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "lab/facts.h"
#include "need_root.h"

TestSuite(facts, .timeout = 60);

static void check(const char *id)
{
    struct tw_fact_result r;
    const struct tw_fact *f = NULL;

    NEED_ROOT();
    for (size_t i = 0; i < tw_nfacts; i++)
        if (strcmp(tw_facts[i].id, id) == 0)
            f = &tw_facts[i];
    cr_assert_not_null(f, "no fact %s", id);
    memset(&r, 0, sizeof(r));
    f->run(&r);
    cr_assert_str_empty(r.err, "%s: not measured: %s", f->claim, r.err);
    cr_assert(r.pass, "%s: did not hold: %s", f->claim, r.text);
}

Test(facts, a_the_side_that_closes_first_holds_time_wait) { check("a"); }
Test(facts, b_abort_leaves_no_time_wait_and_resets_the_peer) { check("b"); }
Test(facts, c_passive_close_leaves_no_time_wait_on_the_passive_side) { check("c"); }
Test(facts, d_client_close_exhausts_ports_abort_and_server_close_do_not) { check("d"); }
Test(facts, e_tw_reuse_needs_timestamps) { check("e"); }
Test(facts, f_time_wait_blocks_a_4_tuple_not_a_port) { check("f"); }

Test(facts, every_fact_has_a_test)
{
    cr_assert_eq(tw_nfacts, 6, "a fact was added: give it a Test above");
}
