"""The example FastAPI services that use the shared code and are tested with the harness."""
