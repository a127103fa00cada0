"""mqtts:// for the kiosk: a TLS stream opener for mqtt.MQTTClient, verifying the broker with
the city's CA certificate kept on flash (settings.json "ca")."""
import asyncio


def pem_to_der(data):
    """The first certificate of a PEM file as DER: MicroPython's mbedTLS build here takes DER
    only ("invalid cert" for PEM), and a city's CA file is usually PEM."""
    from binascii import a2b_base64
    if b"-----BEGIN" not in data:
        return data
    body = data.split(b"-----BEGIN", 1)[1].split(b"-----", 1)[1].split(b"-----END", 1)[0]
    return a2b_base64(b"".join(body.split()))


def tls_opener(ca=None, server_hostname=None):
    """A stream opener for mqtts://. With `ca` (a PEM or DER file on flash holding the CA
    certificate) the broker's certificate and host name are verified; without it the link is
    encrypted but not authenticated. The opener is given the broker's address (net.py looked
    the name up without blocking); `server_hostname` is the name the certificate must carry."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        with open(ca, "rb") as f:
            ctx.load_verify_locations(cadata=pem_to_der(f.read()))
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE

    def opener(host, port):
        return asyncio.open_connection(host, port, ssl=ctx,
                                       server_hostname=server_hostname or host)
    return opener
