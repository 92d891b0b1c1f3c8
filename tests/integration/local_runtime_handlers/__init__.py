"""Small Lambda handlers that exercise the local runtime, one per kind of trigger."""
