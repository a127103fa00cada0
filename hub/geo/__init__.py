"""District boundaries for the dashboard's map: reading and checking a GeoJSON file of the
city's districts (`civic districts import`, the admin page's upload) and the shapes kept in
district_shapes (boundaries.py). The map itself is drawn by hub/web/maps.py.
"""
