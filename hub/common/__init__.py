"""What every part of the hub shares and that belongs to none of them: structured log lines
(logs.py), the received MQTT message (messages.py) and the background loop of `civic serve`'s
threads (loop.py). Nothing here imports another hub package, so any part can use it without
pulling in the ingest, the store or the web app.
"""
