"""Operation handlers: one function per operationId of the spec."""
