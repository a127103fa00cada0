"""`civic`: a thin command line over the hub's library (sqlite-utils style).

Each command parses its options and calls one function in the module that owns the work;
errors from those become clear messages (CivicError -> "Error: ..." and exit 1).
Every hub command takes --db (default civic.db, or $CIVIC_DB).
"""
import json
import sys

import click


class CivicError(click.ClickException):
    """An error a user can act on: the message says what went wrong and what to do next."""


def db_option(f):
    return click.option("--db", "db", default="civic.db", envvar="CIVIC_DB", show_default=True,
                        type=click.Path(dir_okay=False), help="SQLite database of the hub.")(f)


def broker_options(f):
    f = click.option("--password", default=None, envvar="CIVIC_MQTT_PASSWORD",
                     help="MQTT password (or $CIVIC_MQTT_PASSWORD).")(f)
    f = click.option("--user", default=None, envvar="CIVIC_MQTT_USER", help="MQTT username.")(f)
    return f


def ca_option(f):
    return click.option("--ca", default=None, envvar="CIVIC_MQTT_CA",
                        type=click.Path(dir_okay=False, exists=True),
                        help="For mqtts://: the CA certificate that signed the broker's "
                             "(default: the system's CAs). Or $CIVIC_MQTT_CA.")(f)


class CivicGroup(click.Group):
    """Turns errors of the hub's library that a user can act on into CivicError messages."""

    def invoke(self, ctx):
        from hub.store.connection import DatabaseUnavailable
        try:
            return super().invoke(ctx)
        except DatabaseUnavailable as e:
            raise CivicError(str(e))


@click.group(cls=CivicGroup)
@click.version_option(package_name="civic-kiosk")
def cli():
    """Civic kiosks: the hub that hears a city's feedback kiosks, and the tools around it."""


@cli.command()
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
              help="MQTT broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT; for a cluster the "
                   "nodes' URLs, comma-separated: the hub moves to the next when one is lost.")
@broker_options
@ca_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve HTTP on.")
@click.option("--port", default=8080, show_default=True, type=int, help="HTTP port.")
@click.option("--client-id", default="civic-hub", show_default=True, envvar="CIVIC_MQTT_CLIENT_ID",
              help="Stable MQTT client id: the broker keeps this session's queue while it is down.")
@click.option("--share", default=None, metavar="GROUP",
              help="Also take taps through the shared subscription $share/GROUP/..., beside "
                   "`civic ingest --share GROUP` workers (each with its own --client-id).")
@db_option
def serve(broker, user, password, ca, host, port, client_id, share, db):
    """Run the hub: MQTT ingest and the web dashboard/API."""
    from hub import create_app
    from hub.alerts.service import AlertService
    from hub.common.logs import setup_logging
    from hub.ingest.run import start_ingest
    from hub.store.retention import Housekeeping
    from hub.web.server import run_web
    from hub.store.connection import exposure_warnings
    setup_logging()
    for w in exposure_warnings(db):
        click.echo("warning: " + w, err=True)
    ingest = start_ingest(broker, user, password, db, client_id, share, ca)
    parts = [ingest]
    try:
        app = create_app({"DATABASE": db, "INGEST": ingest})
        parts.insert(0, AlertService(db).start())
        parts.insert(0, Housekeeping(db).start())  # retention: hub/store/retention.py
    except BaseException:
        ingest.stop()
        raise
    run_web(app, host, port, parts)


@cli.command()
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
              help="MQTT broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT; for a cluster the "
                   "nodes' URLs, comma-separated: the hub moves to the next when one is lost.")
@broker_options
@ca_option
@click.option("--share", default=None, metavar="GROUP",
              help="Take taps through the MQTT shared subscription $share/GROUP/... so several "
                   "ingest workers split the load (give each its own --client-id).")
@click.option("--client-id", default="civic-hub", show_default=True, envvar="CIVIC_MQTT_CLIENT_ID",
              help="Stable MQTT client id: the broker keeps this session's queue while it is down.")
@db_option
def ingest(broker, user, password, ca, share, client_id, db):
    """Run the MQTT ingest alone (no web), e.g. as one of several shared-subscription workers."""
    from hub.ingest.run import run_ingest
    run_ingest(broker=broker, user=user, password=password, db=db, client_id=client_id,
               share=share, ca=ca)


@cli.command()
@click.option("--kiosks", default=8, show_default=True, type=int, help="Simulated kiosks to run.")
@click.option("--port", default=8080, show_default=True, type=int, help="HTTP port.")
@db_option
def demo(kiosks, port, db):
    """Run everything on one machine: embedded broker, hub and simulated kiosks."""
    from hub.demo.run import run_demo
    run_demo(kiosks=kiosks, http_port=port, db=db)


@cli.group()
def user():
    """Staff accounts for the dashboard."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="viewer", show_default=True)
@db_option
def user_add(name, role, db):
    """Add a staff account; the password is read from stdin."""
    from hub.web import auth
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        auth.add_user(db, name, password, role)
    except ValueError as e:
        raise CivicError(str(e))
    click.echo("user %s added (%s)" % (name, role))


@cli.group()
def alerts():
    """When alerts open, and who is told (webhook, e-mail)."""


@alerts.command("config")
@click.option("--offline-minutes", type=int, help="Alert when a kiosk is offline this long.")
@click.option("--heartbeat-seconds", type=int,
              help="The kiosks' status interval; silent for three of them is offline.")
@click.option("--webhook", metavar="URL", help="POST each alert that opens or ends here "
              "(JSON, signed: X-Civic-Signature); '' turns it off.")
@click.option("--rotate-secret", is_flag=True, help="A new signing secret for the webhook.")
@click.option("--smtp", metavar="HOST:PORT", help="Mail alerts through this SMTP server; '' "
              "turns mail off.")
@click.option("--email", metavar="ADDR", help="Where alert mails go (with --smtp).")
@click.option("--email-from", metavar="ADDR", help="The sender of alert mails.")
@click.option("--language", type=click.Choice(["en", "nl"]), help="Language of the messages.")
@db_option
def alerts_config(offline_minutes, heartbeat_seconds, webhook, rotate_secret, smtp, email,
                  email_from, language, db):
    """Change and print the alert settings (JSON; the webhook's secret included)."""
    from hub.alerts import settings
    from hub.store.connection import using
    given = {"alert_offline_minutes": offline_minutes, "heartbeat_seconds": heartbeat_seconds,
             "alert_webhook": webhook, "alert_smtp": smtp, "alert_email": email,
             "alert_email_from": email_from, "alert_language": language}
    if smtp == "" and email is None:
        given["alert_email"] = ""   # mail off: forget the address too
    try:
        with using(db) as d:
            cfg = settings.update(d, {k: v for k, v in given.items() if v is not None},
                                  rotate_secret=rotate_secret)
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps(cfg, indent=2, sort_keys=True))


@cli.group()
def token():
    """API tokens for scripts (Authorization: Bearer TOKEN)."""


@token.command("create")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="viewer", show_default=True)
@click.option("--label", default=None, help="What the token is for.")
@click.option("--days", default=None, type=click.IntRange(1, 3650),
              help="Expire after this many days (default: never; see /admin/tokens).")
@db_option
def token_create(role, label, days, db):
    """Create an API token and print it (shown only this once)."""
    from hub.web import auth
    click.echo(auth.create_token(db, role, label, days))


@cli.group()
def kiosk():
    """Kiosks: run one simulated, register, build and flash."""


@kiosk.command("sim")
@click.option("--id", "kiosk_id", default=None,
              help="Kiosk id, e.g. lib-north-1 (required unless --boot-flash).")
@click.option("--broker", default=None,
              help="mqtt://HOST:PORT or mqtts://HOST:PORT (required unless --boot-flash).")
@broker_options
@click.option("--dir", "flash_dir", required=True, type=click.Path(file_okay=False),
              help="The kiosk's flash: queue, counters and config live here.")
@click.option("--heap", default="160K", show_default=True, help="MicroPython heap size cap.")
@click.option("--build", "build_dir", default=None, type=click.Path(file_okay=False),
              help="Run a compiled build (from `civic kiosk build`) instead of the sources.")
@click.option("--boot-flash", is_flag=True,
              help="Boot the code inside DIR/flash.img (its main.py), as a Pico W does; "
                   "id/broker/credentials come from its settings.json unless given.")
@click.option("--ntp", default=None, metavar="HOST:PORT",
              help="Set the clock by NTP from HOST:PORT (default: the PC's clock).")
@click.option("--safe-boot", "hold", is_flag=True,
              help="Power on with the safe-boot switch held: the app does not start.")
@click.option("--queue-max", default=None, type=int,
              help="Queue capacity in taps (default 20000), e.g. to test the full policy.")
@click.option("--ticks-start", default=None, metavar="MS",
              help="The board's 30-bit ticks_ms() at power-on (default: 60 s before the wrap).")
@click.option("--flash-timing", type=click.Choice(["on", "off"]), default="on",
              show_default=True,
              help="Model the flash chip's erase and program times (the loop blocked).")
@click.option("--update-key", default=None, metavar="HEX", envvar="CIVIC_UPDATE_KEY",
              help="The kiosk's firmware-update key (hex; docs/UPDATES.md), else "
                   "$CIVIC_UPDATE_KEY (never shown in ps), else settings.json's update_key.")
def kiosk_sim(kiosk_id, broker, user, password, flash_dir, heap, build_dir, boot_flash, ntp,
              hold, queue_max, ticks_start, flash_timing, update_key):
    """Run the real firmware under MicroPython with a simulated board (commands on stdin)."""
    from hub.kiosk_tools.sim import run_sim
    sys.exit(run_sim(kiosk_id=kiosk_id, broker=broker, user=user, password=password,
                     flash_dir=flash_dir, heap=heap, build_dir=build_dir,
                     boot_flash=boot_flash, ntp=ntp, hold=hold, queue_max=queue_max,
                     ticks_start=ticks_start, flash_timing=flash_timing == "on",
                     update_key=update_key))


@kiosk.command("provision")
@click.argument("kiosk_id")
@click.option("--district", default=None, help="District the kiosk stands in.")
@click.option("--rotate", is_flag=True,
              help="Issue a new password for a kiosk already provisioned (the old one stops "
                   "working when the broker config is rewritten).")
@click.option("--broker-dir", default=None, type=click.Path(file_okay=False),
              help="Also rewrite the broker files in this folder (made by `civic broker "
                   "config`) and reload the broker.")
@db_option
def kiosk_provision(kiosk_id, district, rotate, broker_dir, db):
    """Register a kiosk and print its MQTT credentials once, as JSON."""
    import os
    from hub.fleet import provision
    rabbit = bool(broker_dir) and os.path.exists(os.path.join(broker_dir, "rabbitmq.conf"))
    if broker_dir and not rabbit and not os.path.exists(os.path.join(broker_dir,
                                                                     "mosquitto.conf")):
        raise CivicError("no broker setup in %s yet: run `civic broker config --dir %s` first"
                         % (broker_dir, broker_dir))
    try:
        click.echo(provision.provision_kiosk(db, kiosk_id, district, rotate=rotate))
        if rabbit:
            import json
            out = json.loads(provision.write_rabbitmq_config(db, broker_dir))
            click.echo("RabbitMQ definitions in %s rewritten: run `%s` on one node"
                       % (broker_dir, out["import"]), err=True)
        elif broker_dir:
            import json
            out = json.loads(provision.write_broker_config(db, broker_dir, None, reload=True))
            click.echo("broker files in %s rewritten (%s)" % (broker_dir, "broker reloaded" if
                       out["reloaded"] else "no running broker"), err=True)
    except ValueError as e:
        raise CivicError(str(e))


@kiosk.command("update-key")
@click.argument("kiosk_id")
@db_option
def kiosk_update_key(kiosk_id, db):
    """Make a new update key for a kiosk and print it once, as JSON (flash it into the kiosk
    with `civic kiosk flash --credentials`): for kiosks provisioned before firmware updates,
    or to change a key. The kiosk takes offers again once it has the new key."""
    from hub.store.connection import using
    from hub.updates import update_keys
    try:
        with using(db) as d:
            click.echo(update_keys.rotate_key(d, kiosk_id))
    except ValueError as e:
        raise CivicError(str(e))


@kiosk.command("revoke")
@click.argument("kiosk_id")
@click.option("--broker-dir", default=None, type=click.Path(file_okay=False),
              help="Also rewrite the broker files in this folder and reload the broker.")
@db_option
def kiosk_revoke(kiosk_id, broker_dir, db):
    """Take away a kiosk's MQTT access (its counted taps stay)."""
    from hub.fleet import provision
    try:
        click.echo(provision.revoke_kiosk(db, kiosk_id, broker_dir))
    except ValueError as e:
        raise CivicError(str(e))


@kiosk.command("build")
@click.option("--out", "out_dir", default="build/kiosk", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the build (replaced).")
def kiosk_build(out_dir):
    """Compile the firmware with mpy-cross into a folder laid out as the Pico W's flash."""
    from hub.kiosk_tools import build as kb
    try:
        info = kb.build(out_dir)
    except kb.BuildError as e:
        raise CivicError(str(e))
    click.echo("built %d files (%d bytes, .mpy v%s) in %s" % (len(info["files"]), info["bytes"],
                                                               info["mpy"], out_dir))


@kiosk.command("flash")
@click.option("--port", required=True, help="The board's serial port, e.g. /dev/ttyACM0 or COM3.")
@click.option("--id", "kiosk_id", required=True, help="Kiosk id, as provisioned.")
@click.option("--wifi", "wifi_ssid", default=None,
              help="Wi-Fi network (SSID); its password from $CIVIC_WIFI_PASSWORD or a prompt.")
@click.option("--broker", default=None, help="mqtt://HOST:PORT or mqtts://HOST:PORT the kiosk uses.")
@click.option("--credentials", default=None,
              help="File with the JSON `civic kiosk provision` printed, or - for stdin.")
@click.option("--ca", default=None, type=click.Path(dir_okay=False, exists=True),
              help="CA certificate (PEM) for mqtts://, installed as ca.pem.")
@click.option("--build", "build_dir", default=None, type=click.Path(file_okay=False),
              help="A build from `civic kiosk build` (default: build now).")
@click.option("--lang", default=None, help="Display language, e.g. en or nl.")
@click.option("--ntp", default=None, help="NTP server for the kiosk's clock.")
@click.option("--open-wifi", is_flag=True, help="The Wi-Fi network has no password.")
@click.option("--no-reset", is_flag=True, help="Install only; do not reset the board.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the kiosk's first status.")
@click.option("--timeout", default=90, show_default=True, type=int,
              help="Seconds to wait for the kiosk's first status.")
@click.option("--watch", "watch_broker", default=None,
              help="Broker URL to watch for the status [default: --broker].")
@broker_options
def kiosk_flash(port, kiosk_id, wifi_ssid, broker, credentials, ca, build_dir, lang, ntp,
                open_wifi, no_reset, no_wait, timeout, watch_broker, user, password):
    """Install the firmware and settings on a board with mpremote, reset it and wait until the
    kiosk reports on the broker. --user/--password: the hub's MQTT account, to watch for it."""
    import os
    from hub.kiosk_tools import build as kb, flash
    try:  # stdin: first the credentials JSON (with --credentials -), then the Wi-Fi password
        creds = flash.read_credentials(credentials) if credentials else None
    except flash.FlashError as e:
        raise CivicError(str(e))
    wifi_password = None
    if wifi_ssid and not open_wifi:
        wifi_password = os.environ.get("CIVIC_WIFI_PASSWORD")
        if wifi_password is None:
            if sys.stdin.isatty():
                wifi_password = click.prompt("Wi-Fi password for %s" % wifi_ssid, hide_input=True)
            else:
                wifi_password = sys.stdin.readline().rstrip("\r\n")
        if not wifi_password:
            raise CivicError("no Wi-Fi password: set $CIVIC_WIFI_PASSWORD, or --open-wifi")
    try:
        sys.exit(flash.run_flash(
            port, kiosk_id, wifi_ssid=wifi_ssid, wifi_password=wifi_password, broker=broker,
            creds=creds, ca=ca, build_dir=build_dir, lang=lang, ntp=ntp,
            reset=not no_reset, wait=not (no_wait or no_reset), watch_broker=watch_broker,
            watch_user=user, watch_password=password, timeout=timeout, echo=click.echo))
    except (flash.FlashError, kb.BuildError) as e:
        raise CivicError(str(e))


@cli.group()
def broker():
    """The MQTT broker's setup for the registered kiosks."""


@broker.command("config")
@click.option("--dir", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--port", default=None, type=int,
              help="Listener port [default: the port already in DIR, else 1883].")
@click.option("--reload", is_flag=True,
              help="Send SIGHUP to the Mosquitto running from DIR so it rereads the files.")
@click.option("--hub-port", default=None, type=int,
              help="Port of the hub's own listener [default: as before in DIR, else PORT+1].")
@click.option("--hub-bind", default=None,
              help="Address of the hub's listener [default: 127.0.0.1; the hub on this machine].")
@click.option("--certfile", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Server certificate (PEM): kiosks connect with TLS (mqtts://, port 8883).")
@click.option("--keyfile", default=None, type=click.Path(dir_okay=False, exists=True),
              help="The certificate's private key (PEM).")
@click.option("--rotate-hub", is_flag=True, help="Issue a new password for the hub's account.")
@click.option("--kind", type=click.Choice(["mosquitto", "rabbitmq"]), default="mosquitto",
              show_default=True,
              help="rabbitmq: definitions.json and rabbitmq.conf for a RabbitMQ cluster with "
                   "its MQTT plugin (docs/SCALING.md).")
@click.option("--nodes", default=None,
              help="rabbitmq: the cluster's node names, comma-separated "
                   "(rabbit@host1,rabbit@host2,...), for its peer discovery.")
@db_option
def broker_config(out_dir, port, reload, hub_port, hub_bind, certfile, keyfile, rotate_hub, kind,
                  nodes, db):
    """Write mosquitto.conf, password and ACL files for the registry into DIR (JSON report;
    the hub's MQTT password appears in it once, on the run that creates it). With --kind
    rabbitmq: definitions.json and rabbitmq.conf instead."""
    from hub.fleet import provision
    if kind == "rabbitmq":
        if reload or hub_port or hub_bind:
            raise CivicError("--reload, --hub-port and --hub-bind are Mosquitto's; for RabbitMQ "
                             "run the `rabbitmqctl import_definitions` line of the report")
        try:
            click.echo(provision.write_rabbitmq_config(
                db, out_dir, port, rotate_hub=rotate_hub, certfile=certfile, keyfile=keyfile,
                nodes=[n.strip() for n in (nodes or "").split(",") if n.strip()]))
        except ValueError as e:
            raise CivicError(str(e))
        return
    try:
        click.echo(provision.write_broker_config(db, out_dir, port, reload=reload,
                                                 rotate_hub=rotate_hub, hub_port=hub_port,
                                                 hub_bind=hub_bind, certfile=certfile,
                                                 keyfile=keyfile))
    except ValueError as e:
        raise CivicError(str(e))


@cli.command()
@click.option("--taps", default=10_000_000, show_default=True, type=click.IntRange(0),
              help="How many taps in all.")
@click.option("--kiosks", default=500, show_default=True, type=click.IntRange(1))
@click.option("--days", default=730, show_default=True, type=click.IntRange(1),
              help="Days of history, up to today.")
@click.option("--seed", "rand_seed", default=1, show_default=True, type=int,
              help="Random seed (the same seed gives the same data).")
@db_option
def seed(taps, kiosks, days, rand_seed, db):
    """Fill a NEW database with a city's worth of realistic taps (for demos and benchmarks)."""
    from hub.demo.seed import run_seed
    try:
        res = run_seed(db, taps=taps, kiosks=kiosks, days=days, seed=rand_seed,
                       progress=lambda m: click.echo(m, err=True))
    except ValueError as e:
        raise CivicError(str(e))
    click.echo("seeded %(taps)d taps from %(kiosks)d kiosks over %(days)d days in %(seconds)s s"
               % res)


@cli.group()
def offer():
    """Help offers: where citizens get help with a skill; kiosks show them after a press."""


@offer.command("add")
@click.option("--skill", required=True, metavar="CATEGORY", help="Skill category, e.g. basics.")
@click.option("--text", required=True, help="The short text a kiosk shows (English).")
@click.option("--district", default=None, metavar="NAME",
              help="For this district's kiosks (default: the whole city).")
@click.option("--text-nl", default=None, help="The same text in Dutch.")
@click.option("--place", default=None, help="Where, e.g. 'Library North, Main St 4'.")
@click.option("--times", default=None, help="When, e.g. 'Tue 10-12'.")
@click.option("--contact", default=None, help="Phone or e-mail.")
@db_option
def offer_add(skill, text, district, text_nl, place, times, contact, db):
    """Record a help offer and write the configs of the kiosks that show it (JSON)."""
    from hub.offers import offers
    from hub.store.connection import transaction, using
    try:
        with using(db) as d, transaction(d.conn):
            oid, pushed = offers.add_offer(d, skill, text, district, text_nl, place, times,
                                           contact, user="cli")
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps({"id": oid, "pushed": [{"kiosk": k, "rev": r} for k, r in pushed]}))


@offer.command("list")
@db_option
def offer_list(db):
    """Print the current offers with their outcomes (JSON)."""
    from hub.offers import offers
    from hub.store.connection import using
    with using(db) as d:
        click.echo(json.dumps(offers.list_offers(d), indent=2))


@offer.command("remove")
@click.argument("offer_id", type=int)
@db_option
def offer_remove(offer_id, db):
    """Withdraw an offer; the kiosks that showed it get a new config (JSON)."""
    from hub.offers import offers
    from hub.store.connection import transaction, using
    try:
        with using(db) as d, transaction(d.conn):
            pushed = offers.remove_offer(d, offer_id)
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps({"removed": offer_id,
                           "pushed": [{"kiosk": k, "rev": r} for k, r in pushed]}))


@offer.command("attendance")
@click.argument("offer_id", type=int)
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--people", required=True, type=click.IntRange(0), help="How many people came.")
@db_option
def offer_attendance(offer_id, month, people, db):
    """Record how many people came to an offer in a month (a count, no names)."""
    from hub.offers import offers
    from hub.store.connection import transaction, using
    try:
        with using(db) as d, transaction(d.conn):
            offers.record_attendance(d, offer_id, month, people)
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps({"offer": offer_id, "month": month, "people": people}))


@cli.group()
def districts():
    """Districts: their boundaries for the dashboard's map."""


@districts.command("import")
@click.argument("file", type=click.File("rb"))
@db_option
def districts_import(file, db):
    """Read district boundaries from a GeoJSON FeatureCollection (name in properties.name)."""
    from hub.geo import boundaries
    from hub.store.connection import transaction, using
    try:
        with using(db) as d, transaction(d.conn):
            names = boundaries.import_districts(d, file.read(boundaries.MAX_BYTES + 1))
    except ValueError as e:
        raise CivicError("%s: %s" % (file.name, e))
    click.echo("imported %d districts: %s" % (len(names), ", ".join(names)))


@cli.group("open")
def open_data():
    """Open data: publish the protected figures (docs/OPEN_DATA.md)."""


@open_data.command("push")
@click.option("--ngsi-ld", "url", required=True, help="NGSI-LD broker base URL, e.g. "
              "http://orion:1026 (POST /ngsi-ld/v1/entityOperations/upsert is added).")
@click.option("--period", default="all", show_default=True, help="YYYY-MM or all.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--tenant", default=None, help="NGSILD-Tenant header.")
@db_option
def open_push(url, period, batch, tenant, db):
    """Send the open data as NGSI-LD entities to a context broker (upsert, idempotent)."""
    from hub.opendata import grid, push
    from hub.store.connection import open_db
    conn = open_db(db)
    try:
        entities = push.open_data_entities(conn, period)
        click.echo(json.dumps(push.push(url, entities, batch=batch, tenant=tenant)))
    except (grid.NotPublished, push.PushError) as e:
        raise CivicError(str(e))
    finally:
        conn.conn.close()


@cli.command()
@click.option("--taps-days", type=click.IntRange(0), help="Keep raw taps this many days (0: all).")
@click.option("--rejects-days", type=click.IntRange(0), help="Keep rejects this many days.")
@click.option("--events-days", type=click.IntRange(0), help="Keep kiosk events this many days.")
@db_option
def prune(taps_days, rejects_days, events_days, db):
    """Store the retention settings given, then delete raw data older than they allow."""
    from hub.store import retention
    from hub.store.connection import open_db
    conn = open_db(db)
    try:
        given = {"retention_taps_days": taps_days, "retention_rejects_days": rejects_days,
                 "retention_events_days": events_days}
        retention.save(conn, {k: v for k, v in given.items() if v is not None})
        click.echo(json.dumps({"deleted": retention.prune(conn),
                               "settings": retention.settings(conn)}))
    finally:
        conn.conn.close()


@cli.group()
def firmware():
    """Firmware updates over the air: releases, rollouts and their state (docs/UPDATES.md)."""


@firmware.command("release")
@click.option("--version", "version", required=True, help="The release's version, e.g. 1.0.1.")
@click.option("--from", "firmware_dir", default=None, type=click.Path(file_okay=False),
              help="The firmware's source folder [default: the repository's firmware/].")
@click.option("--notes", default=None, help="What changed, for the staff who roll it out.")
@db_option
def firmware_release(version, firmware_dir, notes, db):
    """Compile the firmware with mpy-cross and record it as a release (JSON summary)."""
    from hub.store.connection import using
    from hub.updates import releases
    try:
        with using(db) as d:
            out = releases.make_release(d, version, firmware_dir, notes,
                                        progress=lambda m: click.echo(m, err=True))
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps(out))


@firmware.command("rollout")
@click.argument("version")
@click.option("--kiosk", "kiosks", multiple=True, help="A kiosk to offer it to (repeatable).")
@click.option("--district", default=None, help="Every kiosk of this district.")
@click.option("--all", "everyone", is_flag=True, help="Every kiosk that has an update key.")
@db_option
def firmware_rollout(version, kiosks, district, everyone, db):
    """Offer release VERSION to kiosks; the hub's ingest sends it (JSON: each kiosk's offer).
    Rolling back is a rollout of the older version."""
    from hub.store.connection import using
    from hub.updates import rollouts
    try:
        with using(db) as d:
            out = rollouts.rollout(d, version, kiosks, district, everyone, user="cli")
    except ValueError as e:
        raise CivicError(str(e))
    click.echo(json.dumps(out))


@firmware.command("status")
@click.option("--district", default=None, help="Only this district's kiosks.")
@db_option
def firmware_status(district, db):
    """Print the releases and each kiosk's running version and update state, as JSON."""
    from hub.store.connection import using
    from hub.updates import rollouts
    with using(db) as d:
        click.echo(json.dumps(rollouts.report(d.conn, district), indent=1))


def main():
    cli()


if __name__ == "__main__":
    main()
