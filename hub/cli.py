"""`civic`: a thin command line over the hub's library (sqlite-utils style).

Each command parses its options and calls one function in the module that owns the work;
errors from those become clear messages (CivicError -> "Error: ..." and exit 1).
Every hub command takes --db (default civic.db, or $CIVIC_DB).
"""
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


@click.group()
@click.version_option(package_name="civic-kiosk")
def cli():
    """Civic kiosks: the hub that hears a city's feedback kiosks, and the tools around it."""


@cli.command()
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
              help="MQTT broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT.")
@broker_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve HTTP on.")
@click.option("--port", default=8080, show_default=True, type=int, help="HTTP port.")
@db_option
def serve(broker, user, password, host, port, db):
    """Run the hub: MQTT ingest and the web dashboard/API."""
    from hub.serve import run_serve
    run_serve(broker=broker, user=user, password=password, host=host, port=port, db=db)


@cli.command()
@click.option("--kiosks", default=8, show_default=True, type=int, help="Simulated kiosks to run.")
@click.option("--port", default=8080, show_default=True, type=int, help="HTTP port.")
@db_option
def demo(kiosks, port, db):
    """Run everything on one machine: embedded broker, hub and simulated kiosks."""
    from hub.demo import run_demo
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
    from hub import auth
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
def token():
    """API tokens for scripts (Authorization: Bearer TOKEN)."""


@token.command("create")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="viewer", show_default=True)
@click.option("--label", default=None, help="What the token is for.")
@db_option
def token_create(role, label, db):
    """Create an API token and print it (shown only this once)."""
    from hub import auth
    click.echo(auth.create_token(db, role, label))


@cli.group()
def kiosk():
    """Kiosks: run one simulated, register, build and flash."""


@kiosk.command("sim")
@click.option("--id", "kiosk_id", required=True, help="Kiosk id, e.g. lib-north-1.")
@click.option("--broker", required=True, help="mqtt://HOST:PORT or mqtts://HOST:PORT")
@broker_options
@click.option("--dir", "flash_dir", required=True, type=click.Path(file_okay=False),
              help="The kiosk's flash: queue, counters and config live here.")
@click.option("--heap", default="160K", show_default=True, help="MicroPython heap size cap.")
@click.option("--build", "build_dir", default=None, type=click.Path(file_okay=False),
              help="Run a compiled build (from `civic kiosk build`) instead of the sources.")
def kiosk_sim(kiosk_id, broker, user, password, flash_dir, heap, build_dir):
    """Run the real firmware under MicroPython with a simulated board (commands on stdin)."""
    from hub.kiosk_sim import run_sim
    sys.exit(run_sim(kiosk_id=kiosk_id, broker=broker, user=user, password=password,
                     flash_dir=flash_dir, heap=heap, build_dir=build_dir))


@kiosk.command("provision")
@click.argument("kiosk_id")
@click.option("--district", default=None, help="District the kiosk stands in.")
@db_option
def kiosk_provision(kiosk_id, district, db):
    """Register a kiosk and print its MQTT credentials once, as JSON."""
    from hub import provision
    try:
        click.echo(provision.provision_kiosk(db, kiosk_id, district))
    except ValueError as e:
        raise CivicError(str(e))


@cli.group()
def broker():
    """The MQTT broker's setup for the registered kiosks."""


@broker.command("config")
@click.option("--dir", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--port", default=1883, show_default=True, type=int)
@db_option
def broker_config(out_dir, port, db):
    """Write mosquitto.conf, password and ACL files for the registry into DIR."""
    from hub import provision
    try:
        click.echo(provision.write_broker_config(db, out_dir, port))
    except ValueError as e:
        raise CivicError(str(e))


def main():
    cli()


if __name__ == "__main__":
    main()
