class ModelUnavailableError(RuntimeError):
    """A configured model cannot be found or verified; the message says what to install or set."""
