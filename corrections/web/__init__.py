"""Non-API pages: health check, API description and its local interactive docs."""
