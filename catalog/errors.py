"""The one error type for user mistakes in configuration or the tenant catalog."""


class ConfigError(Exception):
    """A config or catalog mistake: names the file and the field, never needs a traceback."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: {field}: {problem}")
