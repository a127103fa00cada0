"""The kiosk fleet as the broker sees it: provisioning a kiosk's own MQTT account
(provision.py: `civic kiosk provision`, `civic kiosk revoke`) and writing the broker's whole
configuration from the registry (broker_config.py: `civic broker config`), from the tested
settings in deploy/mosquitto.conf.
"""
