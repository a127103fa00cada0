"""The hub's SQLite database: how it is opened, its schema and migrations, and what is kept
beside the taps in the same transaction (rollups, seq gaps, the kiosk registry).

The rule for database handles, followed everywhere in hub/:
- Who opens a connection: only a long-lived part of a process, once, for itself: the ingest's
  writer (the one connection that writes taps), the ingest's config publisher, the alert
  service, a CLI command, the seeder. Each uses connection.open_db() (migrates first) or
  connection.connect(), and closes its connection when it stops.
- What a request gets: exactly one connection, hub.web.db.get_db(), opened on first use and
  closed at the request's teardown (a streamed export keeps the request's context, and so the
  same connection, until its last row: flask.stream_with_context).
- Library functions (everything in hub/store/, the page queries, provisioning's and auth's
  helpers) take that connection as a parameter and never open a second one.
- Who owns a transaction: the caller that opens it with connection.transaction(conn) (BEGIN
  IMMEDIATE ... COMMIT). A library function that writes joins the caller's transaction when one
  is open and opens its own only when called alone, so "one batch, one commit" holds for the
  writer and for every admin action.
- A GET never writes. Background writes (alerts, token last-used times) happen in their own
  loops with their own connections.
"""
