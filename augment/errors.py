"""The one exception type for expected, user-facing failures."""


class AugkitError(Exception):
    """Bad input or configuration; the message names the file, line and problem."""


class InputError(AugkitError):
    """A problem at a specific place in an input file."""

    def __init__(self, path, problem: str, line: int | None = None, offset: int | None = None):
        where = str(path)
        if line is not None:
            where += f":{line}"
        if offset is not None:
            where += f" (byte {offset})"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.offset, self.problem = path, line, offset, problem
