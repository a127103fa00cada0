"""`civic demo` and what it needs: the whole system on one machine (run.py), an MQTT broker
inside the process so no system package is needed (embedded_broker.py), and the seeder that
fills a database with a realistic city's history (seed.py, `civic seed`).
"""
