/* What a TLS peer's certificates say, for every kind that speaks TLS (the
 * tls kind's handshake, the http kind's https connections through curl).
 */
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "probe/probe.h"

static double not_after(const X509 *x)
{
    const ASN1_TIME *at = x ? X509_get0_notAfter(x) : NULL;
    struct tm tm;

    if (!at || !ASN1_TIME_to_tm(at, &tm))
        return 0;
    return (double)timegm(&tm);
}

void tp_tls_expiry(struct ssl_st *ssl, struct tp_result *r)
{
    STACK_OF(X509) *chain;
    double leaf, earliest;

    if (!ssl)
        return;
    leaf = not_after(SSL_get0_peer_certificate(ssl));
    earliest = leaf;
    /* The client side's chain starts with the leaf; the leaf is counted
     * above as well, so a chain that omits it (a server-side SSL) is fine. */
    chain = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        double na = not_after(sk_X509_value(chain, i));
        if (na > 0 && (earliest == 0 || na < earliest))
            earliest = na;
    }
    r->tls = true;
    r->leaf_expiry = leaf;
    r->cert_expiry = earliest;
}
