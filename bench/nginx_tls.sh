# Sourced by the probe benches: an nginx for TLS targets in DIR, one
# process (master_process off, daemon off), an ECDSA P-256 certificate for
# NAME (CN and subjectAltName), the temp paths inside DIR. Needs die().
#
#   nginx_tls_conf DIR NAME NOFILE CONNS SSL_AND_SERVERS
#
# SSL_AND_SERVERS: the http block's own lines (session settings, server
# blocks), written after the certificate lines.
nginx_tls_conf() {
    local dir=$1 name=$2 nofile=$3 conns=$4 rest=$5
    mkdir -p "$dir/tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 \
        -subj "/CN=$name" -addext "subjectAltName=DNS:$name" >/dev/null 2>"$dir/openssl.err" ||
        die "openssl: $(cat "$dir/openssl.err")"
    cat >"$dir/nginx.conf" <<NGX
worker_processes 1;
daemon off;
master_process off;
worker_rlimit_nofile $nofile;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $conns; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
$rest
}
NGX
}
