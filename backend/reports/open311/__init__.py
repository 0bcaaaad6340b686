"""Open311 GeoReport v2 for public hazard reports: the clients' API keys, the requests they
sent, and the public listing of published summaries."""
