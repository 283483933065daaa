"""The mock's own controls under ``/__mock/``: handlers for ``openapi/mock-controls.yaml``."""
