"""Public statistics (矫务公开): monthly figures per district, small cells withheld, computed
by a scheduled job into a cache that the unauthenticated API and page read."""
