"""CLI command modules. Each defines ``register(app)`` and imports heavy code lazily."""
