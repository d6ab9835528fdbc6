"""The instance's HTTP server: health, metrics, and (later) blobs, web page and feed."""
