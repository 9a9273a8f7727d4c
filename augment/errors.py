"""The exception types for expected, user-facing failures (the CLI prints them as one line, exit 2)."""


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


class EncodingError(InputError):
    """Bytes that are not valid in the file's encoding. A command with `--errors` can replace them;
    the CLI adds that hint only to commands that have the option."""
