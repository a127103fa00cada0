"""What every part of the hub shares and that belongs to none of them: structured log lines
(logs.py) and the received MQTT message (messages.py). Nothing here imports another hub
package, so any part can use it without pulling in the ingest, the store or the web app.
"""
