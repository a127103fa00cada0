"""Registers the web parts: health, staff access, JSON API, dashboard pages, open data."""


def init_app(app):
    from hub import health
    app.register_blueprint(health.bp)
