"""A seeded generator of a realistic city for the demo, the tests and the default model."""
