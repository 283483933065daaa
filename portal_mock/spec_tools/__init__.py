"""Tools for spec authors: ``portal-mock lint`` (and, to come, ``diff``)."""
