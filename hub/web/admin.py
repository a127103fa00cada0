"""Admin pages (role admin): kiosks (district, place, coordinates), districts (population,
boundaries for the map), staff users. Each change is one transaction; a kiosk's district change moves its counted
history to the new district in the aggregates (hub/store/rollups.py, move_kiosk).
Every change is also an audit row (hub/web/audit.py), in the same transaction."""
from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for

from hub.geo import boundaries
from hub.offers import offers
from hub.store import rollups
from hub.store.connection import transaction
from hub.web import audit, auth
from hub.web.api import Twins
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _

bp = Blueprint("admin", __name__, url_prefix="/admin")
twins = Twins()


def _back(endpoint, error=None):
    return redirect(url_for(endpoint, error=error) if error else url_for(endpoint))


def _row_id(v):
    """A row id from the URL: 1 to 18 digits (SQLite integers are 64-bit), else 400."""
    if not v.isdigit() or len(v) > 18:
        abort(400, description=_("Not a valid id."))
    return int(v)


@bp.get("/")
@login_required("admin")
def index():
    return render_template("admin_index.html", title=_("Admin"))


@bp.get("/kiosks")
@login_required("admin")
def kiosks():
    rows = get_db().execute("SELECT id, district, place, lat, lon FROM kiosks ORDER BY id")
    return render_template("admin_kiosks.html", title=_("Kiosks"), kiosks=rows.fetchall(),
                           error=request.args.get("error"))


def _float(v, lo, hi, what):
    if v in (None, ""):
        return None
    try:
        x = float(v)
    except ValueError:
        raise ValueError(_("%(what)s must be a number", what=what))
    if not lo <= x <= hi:
        raise ValueError(_("%(what)s must be between %(lo)s and %(hi)s", what=what, lo=lo, hi=hi))
    return x


def update_kiosk(db, kiosk, district, place, lat, lon):
    district = (district or "").strip() or None
    place = (place or "").strip() or None
    if district and len(district) > 64 or place and len(place) > 120:
        raise ValueError(_("District or place name too long."))
    lat = _float(lat, -90, 90, _("Latitude"))
    lon = _float(lon, -180, 180, _("Longitude"))
    with db.conn:
        row = db.execute("SELECT district FROM kiosks WHERE id = ?", [kiosk]).fetchone()
        if not row:
            raise ValueError(_("No such kiosk."))
        db.execute("UPDATE kiosks SET district = ?, place = ?, lat = ?, lon = ? WHERE id = ?",
                   [district, place, lat, lon, kiosk])
        rollups.move_kiosk(db, kiosk, row[0], district)
        if district != row[0]:  # the new district's help offers into its config
            offers.refresh_configs(db, district)
        audit.record(db, "kiosk-update", kiosk=kiosk, district=district, place=place)


@bp.post("/kiosks/<kiosk>")
@login_required("admin")
def kiosk_update(kiosk):
    f = request.form
    try:
        update_kiosk(get_db(), kiosk, f.get("district"), f.get("place"), f.get("lat"),
                     f.get("lon"))
    except ValueError as e:
        return _back("admin.kiosks", str(e))
    return _back("admin.kiosks")


@bp.get("/districts")
@login_required("admin")
def districts():
    db = get_db()
    rows = db.execute("SELECT d.name, d.population FROM districts d UNION SELECT DISTINCT "
                      "k.district, NULL FROM kiosks k WHERE k.district IS NOT NULL AND "
                      "k.district NOT IN (SELECT name FROM districts) ORDER BY 1").fetchall()
    shaped = [r[0] for r in db.execute("SELECT name FROM district_shapes ORDER BY name")]
    return render_template("admin_districts.html", title=_("Districts"), districts=rows,
                           shaped=shaped, error=request.args.get("error"),
                           done=request.args.get("imported"))


@bp.post("/districts/map")
@login_required("admin")
def district_map():
    """Upload the districts' boundaries (GeoJSON); a bad file changes nothing and says why."""
    upload = request.files.get("geojson")
    if upload is None or not upload.filename:
        return _back("admin.districts", _("Choose a GeoJSON file to upload."))
    db = get_db()
    try:
        with transaction(db.conn):
            names = boundaries.import_districts(db, upload.read(boundaries.MAX_BYTES + 1))
            audit.record(db, "districts-import", districts=names)
    except ValueError as e:
        return _back("admin.districts", str(e))
    return redirect(url_for("admin.districts", imported=len(names)))


def set_population(db, name, population):
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError(_("A district name of 1 to 64 characters is needed."))
    pop = None
    if population not in (None, ""):
        if not str(population).isdigit() or int(population) > 100_000_000:
            raise ValueError(_("Population must be a whole number."))
        pop = int(population)
    with db.conn:
        db.execute("INSERT INTO districts (name, population) VALUES (?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET population = excluded.population", [name, pop])
        audit.record(db, "district-population", district=name, population=pop)


@bp.post("/districts")
@login_required("admin")
def district_update():
    try:
        set_population(get_db(), request.form.get("name"), request.form.get("population"))
    except ValueError as e:
        return _back("admin.districts", str(e))
    return _back("admin.districts")


def user_list(db):
    return [{"id": i, "name": n, "role": r, "created": c} for i, n, r, c in db.execute(
        "SELECT id, name, role, created FROM users ORDER BY name")]


@bp.get("/users")
@login_required("admin")
def users():
    return render_template("admin_users.html", title=_("Users"), users=user_list(get_db()),
                           error=request.args.get("error"))


@bp.post("/users")
@login_required("admin")
def user_add():
    db = get_db()
    try:
        with transaction(db.conn):
            auth._create_user(db, request.form.get("name"), request.form.get("password"),
                              request.form.get("role"))
            audit.record(db, "user-create", user=(request.form.get("name") or "").strip(),
                         role=request.form.get("role"))
    except ValueError as e:
        return _back("admin.users", str(e))
    return _back("admin.users")


def _other_user(db, uid):
    """(name, error): the user with this id, refused when it is the admin's own account."""
    row = db.execute("SELECT name FROM users WHERE id = ?", [uid]).fetchone()
    if row and g.user["via"] == "session" and uid == g.user["id"]:
        return row[0], _("Change your own account at Account, not here.")
    return (row[0] if row else None), (None if row else _("No such user."))


@bp.post("/users/<uid>/delete")
@login_required("admin")
def user_delete(uid):
    db, uid = get_db(), _row_id(uid)
    name, error = _other_user(db, uid)
    if error:
        return _back("admin.users", error)
    with transaction(db.conn):
        db.execute("DELETE FROM users WHERE id = ?", [uid])
        audit.record(db, "user-delete", user=name)
    return _back("admin.users")


def _change_other_user(uid, change, action, **detail):
    """Apply change(db, uid) to another staff account and log it, in one transaction; back to
    the users page, with the reason when it is refused."""
    db, uid = get_db(), _row_id(uid)
    name, error = _other_user(db, uid)
    try:
        if error:
            raise ValueError(error)
        with transaction(db.conn):
            change(db, uid)
            audit.record(db, action, user=name, **detail)
    except ValueError as e:
        return _back("admin.users", str(e))
    return _back("admin.users")


@bp.post("/users/<uid>/role")
@login_required("admin")
def user_role(uid):
    role = request.form.get("role")
    return _change_other_user(uid, lambda db, u: auth.set_role(db, u, role), "user-role",
                              role=role)


@bp.post("/users/<uid>/password")
@login_required("admin")
def user_password(uid):
    password = request.form.get("password")
    return _change_other_user(uid, lambda db, u: auth.set_password(db, u, password),
                              "user-password")


@bp.get("/tokens")
@login_required("admin")
def tokens():
    return render_template("admin_tokens.html", title=_("API tokens"),
                           tokens=_token_rows(get_db()), new_token=None,
                           error=request.args.get("error"))


def _token_rows(db):
    return db.execute("SELECT id, role, label, created, last_used, expires FROM tokens "
                      "ORDER BY created DESC, id DESC").fetchall()


@bp.post("/tokens")
@login_required("admin")
def token_create():
    role = request.form.get("role")
    label = (request.form.get("label") or "").strip()[:80] or None
    days = (request.form.get("days") or "").strip()
    db = get_db()
    try:
        if days and (not days.isdigit() or len(days) > 4):
            raise ValueError(_("Days must be a whole number from 1 to 3650."))
        with transaction(db.conn):
            token = auth.create_token(db, role, label, int(days) if days else None)
            audit.record(db, "token-create", label=label, role=role, days=days or None)
    except ValueError as e:
        return _back("admin.tokens", str(e))
    # Shown once, on this response only; the database keeps its hash.
    return render_template("admin_tokens.html", title=_("API tokens"), tokens=_token_rows(db),
                           new_token=token, error=None)


@bp.post("/tokens/<tid>/revoke")
@login_required("admin")
def token_revoke(tid):
    db, tid = get_db(), _row_id(tid)
    with transaction(db.conn):
        row = db.execute("SELECT label, role FROM tokens WHERE id = ?", [tid]).fetchone()
        db.execute("DELETE FROM tokens WHERE id = ?", [tid])
        if row:
            audit.record(db, "token-revoke", label=row[0], role=row[1])
    return _back("admin.tokens")


@twins.get("/users")
def users_json():
    if g.user["role"] != "admin":
        return jsonify(error="admin role needed"), 403
    return jsonify(user_list(get_db()))
