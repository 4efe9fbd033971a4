"""The auth service application (``services.auth_service.app.main:app``)."""
