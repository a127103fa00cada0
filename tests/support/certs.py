"""Throwaway TLS material for tests, made with openssl (EC keys: fast)."""
import os
import subprocess


def make_certs(d, other_ca=False):
    """In folder d: a CA (ca.pem), a server certificate it signed for localhost and 127.0.0.1
    (server.crt, server.key) and, with other_ca, an unrelated CA (other.pem).
    -> [ca.pem, server.crt, server.key] as paths."""
    d = str(d)

    def ssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=civic test CA")
    ssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    if other_ca:
        ssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
            "-subj", "/CN=some other CA")
    return [os.path.join(d, n) for n in ("ca.pem", "server.crt", "server.key")]
